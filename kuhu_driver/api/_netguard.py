"""The socket of an attempt, known from its first byte on: so that its deadline and
``stop()`` cover connecting, the headers and the body alike.

httpx hands a response's socket out only once the headers have arrived, so a server
that drips its headers (or never sends them) could hold an attempt, and the worker
thread doing it, for as long as it liked. Our transport's network backend (``_wire``)
tells the guard of the attempt running on this thread about each socket it writes to or
reads from (a new connection, or one reused from the pool), so the guard can shut it
down at once. This module is the thread-local link between the two, and imports nothing
heavy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Protocol

from .._cancel import CancelToken

_current = threading.local()


class Watcher(Protocol):
    #: Set when the attempt is cut short (its deadline, a stop, the client closed).
    fired: CancelToken

    def watch(self, sock: object) -> None: ...
    def done(self) -> None: ...


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Tell ``watcher`` each socket this thread uses inside the block; at its end, tell
    it that it is ``done`` (the connection may then serve another attempt)."""
    _current.watcher = watcher
    try:
        yield
    finally:
        _current.watcher = None
        watcher.done()


def tell(sock: object) -> None:
    """The socket this thread's attempt is using now (see ``_wire.WatchedStream``)."""
    watcher = getattr(_current, "watcher", None)
    if watcher is not None:
        watcher.watch(sock)


def stop_token() -> CancelToken | None:
    """The token set when the attempt running on this thread is cut short (stopped, or
    out of time); None outside an attempt."""
    watcher = getattr(_current, "watcher", None)
    return watcher.fired if watcher is not None else None
