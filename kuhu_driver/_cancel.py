"""The cancel token: one kind of stop for the whole package.

A :class:`CancelToken` is waitable like a ``threading.Event`` and runs callbacks when it
is set, so a stop reaches whatever is under way at once (the socket of an answer being
read is shut, a thread waiting is woken) instead of being found by a loop that looks
every few milliseconds. A job, a task, a ``Speech`` each hold one; a request carries
its job's. The same class serves the few one-shot signals a stop must be able to cut
a wait for (a connection opened ahead, a first request's slot): :func:`wait_any` waits
for whichever comes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class CancelToken(threading.Event):
    """An Event that runs callbacks (once each) when it is set; see the module docstring.

    Callbacks run on the thread that sets the token, so they must be quick (shut a
    socket, set another token); one that raises is logged and the others still run."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next_key = 0
        self._callback_lock = threading.Lock()

    def set(self) -> None:
        with self._callback_lock:
            super().set()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("a cancel callback failed")

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when the token is set (now, if it is set already); returns a
        function that forgets it (call it once the wait it served is over)."""
        with self._callback_lock:
            if not self.is_set():
                key = self._next_key
                self._next_key += 1
                self._callbacks[key] = callback

                def forget() -> None:
                    with self._callback_lock:
                        self._callbacks.pop(key, None)

                return forget
        callback()
        return _nothing


def _nothing() -> None:
    pass


def wait_any(*tokens: CancelToken | None, timeout: float | None = None) -> bool:
    """Wait until one of ``tokens`` (None ones ignored) is set, at most ``timeout``
    seconds; whether one was."""
    present = [t for t in tokens if t is not None]
    if any(t.is_set() for t in present):
        return True
    woke = threading.Event()
    forgets = [t.on_set(woke.set) for t in present]
    try:
        return woke.wait(timeout)
    finally:
        for forget in forgets:
            forget()
