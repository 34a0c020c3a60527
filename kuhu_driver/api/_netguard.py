"""The socket of an attempt, known from its first byte on: so that its deadline and
``stop()`` cover connecting, the headers and the body alike.

httpx hands a response's socket out only once the headers have arrived, so a server
that drips its headers (or never sends them) could hold an attempt, and the worker
thread doing it, for as long as it liked. httpcore, under httpx, opens and reads every
connection through a "network backend"; ours wraps the default one and tells the guard
of the attempt running on this thread about each socket it writes to or reads from (a
new connection, or one reused from the pool), so the guard can shut it down at once.

If httpx's transport ever stops exposing its pool's backend, this step is skipped (one
DEBUG line) and guards fall back to the socket of the answer, as before; a test fails
loudly when that happens.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from ._exit import released_at_exit

if TYPE_CHECKING:
    import ssl

    import httpx

    from ._ahead import Ahead

logger = logging.getLogger(__name__)

_current = threading.local()


class Watcher(Protocol):
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


def _tell(stream: Any) -> None:
    watcher = getattr(_current, "watcher", None)
    if watcher is not None:
        watcher.watch(stream.get_extra_info("socket"))


class _Stream:
    """A httpcore network stream that tells the current attempt's guard its socket."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        _tell(self._inner)
        data: bytes = self._inner.read(max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _tell(self._inner)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _Stream:
        _tell(self._inner)  # the handshake reads too
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _stopped() -> bool:
    """Whether the attempt running on this thread was stopped (or ran out of time)."""
    return getattr(getattr(_current, "watcher", None), "reason", None) is not None


class _Backend:
    """httpcore's network backend, every stream it opens wrapped in :class:`_Stream`;
    a connection opened ahead (``_ahead``) is used first."""

    def __init__(self, inner: Any, ahead: Ahead | None) -> None:
        self._inner = inner
        self.ahead = ahead

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> _Stream:
        if self.ahead is not None:
            opened = self.ahead.take(host, port, _stopped)
            if opened is not None:
                return _Stream(opened)
        with released_at_exit():  # DNS and TCP only: nothing the exit must wait for
            return _Stream(self._inner.connect_tcp(host, port, *args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self._inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guard_sockets(transport: httpx.HTTPTransport, ahead: Ahead | None = None) -> bool:
    """Route ``transport``'s connections through the watching backend (which uses the
    connection ``ahead`` opened, if any); whether it could."""
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if inner is None:
        logger.debug("httpx's transport has no pool backend to watch; headers are not guarded")
        return False
    if isinstance(inner, _Backend):
        inner.ahead = ahead
    else:
        pool._network_backend = _Backend(inner, ahead)  # type: ignore[union-attr]
    return True
