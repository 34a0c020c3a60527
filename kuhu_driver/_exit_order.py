"""What happens at the interpreter's exit, in one order, whatever order our modules were
imported in (Python's ``atexit`` runs handlers in the reverse order of registration,
which would follow the imports).

Every layer registers its step here (``at_exit(stage)``) instead of with ``atexit``; the
one handler registered with ``atexit`` runs the stages in :data:`STAGES` order:

1. ``engines``: each pyttsx3 engine stops (no worker speaks or fetches any more);
2. ``sessions``: the default session closes (its device, its connection);
3. ``network``: no new OpenSSL work starts, every client is closed, and the exit waits
   a little for work under way (see ``api._exit``);
4. ``local voices``: helper processes end;
5. ``audio``: devices still open are closed (a device thread must not call into Python
   during finalization).

A step that fails is logged at DEBUG level; the others still run.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

STAGES = ("engines", "sessions", "network", "local voices", "audio")
_steps: dict[str, list[Callable[[], object]]] = {stage: [] for stage in STAGES}

_F = TypeVar("_F", bound=Callable[[], object])


def at_exit(stage: str) -> Callable[[_F], _F]:
    """Run the decorated function at exit, in ``stage`` (one of :data:`STAGES`)."""
    if stage not in _steps:
        raise ValueError(f"unknown exit stage {stage!r}")

    def register(fn: _F) -> _F:
        _steps[stage].append(fn)
        return fn

    return register


@atexit.register
def run_exit_steps() -> None:
    for stage in STAGES:
        for step in list(_steps[stage]):
            try:
                step()
            except Exception as exc:  # exiting anyway: the other steps still run
                logger.debug("exit step %s failed: %r", getattr(step, "__name__", step), exc)
