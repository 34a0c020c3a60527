"""Engines at the interpreter's exit.

Python freezes daemon threads once finalization begins; one frozen while it held a lock
(waking from a timed wait, say) holds it for ever. pyttsx3 destroys its engines during
finalization (``DriverProxy.__del__``), so a ``destroy`` that took such a lock would hang
the exit. So each engine is shut down at ``atexit``, while every thread still runs, and
``destroy`` does nothing once the interpreter is finalizing.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Protocol

from .._exit_order import at_exit as exit_step


class _Engine(Protocol):
    def _shutdown(self) -> None: ...


_engines: weakref.WeakSet[_Engine] = weakref.WeakSet()


def track(engine: _Engine) -> None:
    """Shut ``engine`` down at exit (it is not kept alive for that)."""
    _engines.add(engine)


@exit_step("engines")
def shut_all_down() -> None:
    for engine in list(_engines):
        with contextlib.suppress(Exception):  # exiting anyway
            engine._shutdown()
