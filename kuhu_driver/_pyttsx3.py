"""pyttsx3's internals, behind one small adapter.

pyttsx3's own drivers touch only ``proxy.notify`` and ``proxy.setBusy``. We read three
more things, each for a feature pyttsx3 has no public way to give:

- ``proxy._name``: the name of the command being run, so that events carry it;
- ``proxy._queue``: the commands waiting, so that queued utterances are fetched ahead
  (and so that the last one knows whether another follows);
- ``proxy._engine._connects``: whether a program listens to ``error``, so that an
  error nobody hears is logged instead;
- ``engine.proxy._driver``: the driver an engine runs (``session_of``, and messages).

The local voice's helper also calls ``proxy.setBusy`` (public to drivers) on an engine
of its own: see :func:`hold_for_the_loop`.

If a pyttsx3 release renames one of them, the feature it serves turns off with one
warning (nothing breaks), and ``tests/driver/test_pyttsx3_adapter.py`` fails loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: The private attributes read here, by the object they are read from.
INTERNALS = {
    "DriverProxy": ("_name", "_queue", "_engine", "_driver"),
    "Engine": ("_connects",),
}

_warned: set[str] = set()


def _missing(what: str) -> None:
    if what not in _warned:
        _warned.add(what)
        logger.warning(
            "this pyttsx3 has no %s: the kuhu driver goes on without the feature that uses it",
            what,
        )


class Pyttsx3Proxy:
    """What the driver needs of pyttsx3's ``DriverProxy``, its public calls included."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def notify(self, topic: str, **kw: Any) -> None:
        self._proxy.notify(topic, **kw)

    def set_busy(self, busy: bool) -> None:
        self._proxy.setBusy(busy)

    def command_name(self) -> str | None:
        """The name given to the command being run (``say(text, name)``)."""
        try:
            name = self._proxy._name
        except AttributeError:
            _missing("DriverProxy._name")
            return None
        except ReferenceError:
            return None
        return name if isinstance(name, str) or name is None else str(name)

    def has_listeners(self, topic: str) -> bool:
        """Whether the program connected a callback to ``topic``."""
        try:
            return bool(self._proxy._engine._connects.get(topic))
        except AttributeError:
            _missing("Engine._connects")
            return False
        except ReferenceError:
            return False

    def pending(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        """The commands waiting in pyttsx3's queue: (method, arguments), in order."""
        try:
            queued = list(self._proxy._queue)
        except AttributeError:
            _missing("DriverProxy._queue")
            return []
        except ReferenceError:
            return []
        return [(entry[0], tuple(entry[1])) for entry in queued]


def engine_driver(engine: Any) -> object:
    """The driver a pyttsx3 engine runs (None if it has none we can see)."""
    return getattr(getattr(engine, "proxy", None), "_driver", None)


def driver_class_name(engine: Any) -> str:
    """The name of the platform driver a pyttsx3 engine runs (for messages only)."""
    return type(engine_driver(engine)).__name__


def hold_for_the_loop(engine: Any) -> None:
    """Make the next command wait for ``runAndWait``'s loop, as an engine's first does.

    pyttsx3 2.99 ends ``runAndWait`` with the proxy idle, so a second ``save_to_file``
    starts at once, before the loop; the loop's first pump (every platform driver
    marks itself idle as its loop starts) then runs the queued ``endLoop``, whose
    ``driver.stop()`` cuts off the file that NSSpeechSynthesizer or SAPI5 is still
    writing. Marked busy, the command is run by that first pump instead, and ``endLoop``
    only once the platform reports the file done. Older releases leave the proxy busy
    after ``runAndWait``: this changes nothing there."""
    _set_busy(engine, True)


def end_the_loop_on_error(engine: Any) -> None:
    """A platform driver that raises in a command has marked itself busy first, and
    would never report the command done: on pyttsx3's ``error`` event the proxy is
    marked idle, so that the queued ``endLoop`` runs and ``runAndWait`` returns."""
    engine.connect("error", lambda name, exception: _set_busy(engine, False))


def _set_busy(engine: Any, busy: bool) -> None:
    proxy = getattr(engine, "proxy", None)
    set_busy = getattr(proxy, "setBusy", None)
    if set_busy is None:
        _missing("DriverProxy.setBusy")
        return
    set_busy(busy)
