"""What a program may do with a kuhu engine beyond pyttsx3's calls: reach its
:class:`Session`, and pause and resume its speech (pyttsx3 has no such call)."""

from __future__ import annotations

from typing import Any

from .._pyttsx3 import engine_driver
from ..pipeline import Session, default_session
from ._driver import KuhuDriver


def _driver(engine: Any) -> KuhuDriver:
    driver = engine_driver(engine)
    if not isinstance(driver, KuhuDriver):
        raise TypeError(
            f"not a kuhu engine (it runs {type(driver).__name__}): pyttsx3.init('kuhu') makes one"
        )
    return driver


def session_of(engine: Any) -> Session:
    """The :class:`Session` of a pyttsx3 engine made with ``pyttsx3.init("kuhu")``: its
    ``stream()``, ``save()`` and ``speak()`` share the engine's connection, cache and
    breaker (``speak()`` plays on a device of its own)."""
    return _driver(engine).session


def pause(engine: Any = None) -> None:
    """Hold the speech of ``engine`` (a kuhu pyttsx3 engine), or of ``speak()`` and
    ``aspeak()`` (the default session) without one: silent within a period of the
    device, the position kept to the sample; what is queued waits, nothing is dropped
    or bought again. ``runAndWait`` keeps waiting while it is paused."""
    if engine is None:
        default_session().pause()
    else:
        _driver(engine).pause()


def resume(engine: Any = None) -> None:
    """Go on from the sample where :func:`pause` held the speech."""
    if engine is None:
        default_session().resume()
    else:
        _driver(engine).resume()
