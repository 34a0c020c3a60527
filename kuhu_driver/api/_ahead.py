"""A connection opened ahead of the request that will use it.

A program that speaks right after ``init`` sends its first request on a new connection:
a TCP round trip and a TLS round trip before the request can leave (2 × 150–250 ms from
abroad to a server in China). Opening it on a thread of its own as soon as text is
queued lets those round trips pass while the request's own set-up runs (importing
httpx, opening the audio device). No HTTP is sent ahead, so nothing can be billed.

httpcore's pool asks our network backend (``_wire``) for each new connection; the
backend takes the one opened here when it is for the same host and port, waiting for it
if it is still being opened. A connection unused for longer than the client keeps idle
connections (``fresh_for``) is not handed out (the server may have closed it); nor is
one the server has closed meanwhile.

The socket is opened with the standard library, before httpx and httpcore are imported
(that import takes ~80 ms, which the round trips overlap); httpcore has no public way to
adopt a socket, so ``_wire.Opened`` is the few lines of network stream over it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._cancel import CancelToken, wait_any
from ..errors import StoppedError
from ._exit import held_at_exit, released_at_exit

if TYPE_CHECKING:  # socket and select are imported when used: not at pyttsx3.init
    import socket
    import ssl

logger = logging.getLogger(__name__)

#: By default, an opened connection (or a failure to open one) older than this is not
#: handed out (see ``KuhuClient.keep_alive``).
FRESH_FOR = 4.0


class _Opening:
    """One connection being opened: its socket once ready, or why it could not be."""

    def __init__(self, host: str, port: int, fresh_for: float) -> None:
        self.key = (host, port)
        self.fresh_for = fresh_for
        self.done = CancelToken()  # set once it is ready, or failed
        self.sock: socket.socket | None = None  # once it is ready
        self.raw: socket.socket | None = None  # as soon as it is connected
        self.error: BaseException | None = None
        self.context: ssl.SSLContext | None = None
        self.ended = time.monotonic()

    def end(self, sock: socket.socket | None, error: BaseException | None) -> None:
        self.sock, self.error, self.ended = sock, error, time.monotonic()
        self.done.set()

    def fresh(self, margin: float = 0.0) -> bool:
        """Still being opened, or opened less than ``fresh_for - margin`` s ago."""
        age = time.monotonic() - self.ended
        return not self.done.is_set() or age < self.fresh_for - margin


class Ready:
    """A connection opened ahead, handed to the backend: the socket (TLS done, if
    ``context``) for ``host``."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext | None, host: str) -> None:
        self.sock, self.context, self.host = sock, context, host


class Ahead:
    """At most one connection opened ahead; see the module docstring."""

    def __init__(self, fresh_for: float = FRESH_FOR) -> None:
        self.fresh_for = fresh_for
        self._lock = threading.Lock()
        self._opening: _Opening | None = None
        self._closed = False

    def busy(self, margin: float = 0.0) -> bool:
        """Whether a connection is being opened, or was opened and stays fresh for more
        than ``margin`` seconds."""
        with self._lock:
            return self._opening is not None and self._opening.fresh(margin)

    def open(
        self,
        host: str,
        port: int,
        context: Callable[[], ssl.SSLContext] | None,
        timeout: float,
        *,
        margin: float = 0.0,
    ) -> bool:
        """Start opening a connection to ``host:port`` (TLS with the context that
        ``context()`` gives, built meanwhile on a thread of its own; None: plain TCP).
        False if one is already under way or fresh for more than ``margin`` s, or this
        was closed."""
        with self._lock:
            if self._closed or (self._opening is not None and self._opening.fresh(margin)):
                return False
            stale, self._opening = self._opening, _Opening(host, port, self.fresh_for)
            opening = self._opening
        _discard(stale)
        if context is not None:
            _spawn(_quietly(context), "kuhu-tls-context")
        _spawn(lambda: self._run(opening, context, timeout), "kuhu-connect")
        return True

    def _run(
        self, opening: _Opening, context: Callable[[], ssl.SSLContext] | None, timeout: float
    ) -> None:
        import socket

        sock: socket.socket | None = None
        try:
            with held_at_exit():  # the TLS handshake runs in OpenSSL
                with released_at_exit():  # a DNS lookup and a connect: not waited for
                    sock = socket.create_connection(opening.key, timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if context is not None:
                    ctx = context()
                    ctx.set_alpn_protocols(["http/1.1"])  # as httpcore asks for HTTP/1.1
                    sock = ctx.wrap_socket(
                        sock, server_hostname=opening.key[0], do_handshake_on_connect=False
                    )
                    self._opened(opening, sock)  # so that close() can end the handshake
                    sock.do_handshake()
                    opening.context = ctx
        except BaseException as exc:  # handed to the request that takes it
            if sock is not None:
                sock.close()
            logger.debug("opening the connection ahead failed (%s)", type(exc).__name__)
            opening.end(None, exc)
        else:
            opening.end(sock, None)
        with self._lock:
            if self._closed:
                _discard(opening)

    def _opened(self, opening: _Opening, sock: socket.socket) -> None:
        with self._lock:
            opening.raw = sock
            if self._closed:
                raise StoppedError("the client was closed")

    def take(self, host: str, port: int, stop: CancelToken | None) -> Ready | None:
        """The connection opened ahead to ``host:port`` (waiting for it while it is
        being opened, until ``stop`` is set), or None. A recent failure to open it is
        raised again: ``ConnectionError`` or ``TimeoutError``."""
        with self._lock:
            opening = self._opening
            if opening is None or opening.key != (host, port) or not opening.fresh():
                return None
        wait_any(opening.done, stop)
        if not opening.done.is_set():
            raise ConnectionError("stopped while connecting")
        with self._lock:
            if self._opening is not opening:
                return None  # closed, or taken by another request meanwhile
            self._opening = None
        if opening.error is not None:
            if isinstance(opening.error, StoppedError) or not opening.fresh():
                return None
            if isinstance(opening.error, TimeoutError):
                raise TimeoutError(str(opening.error)) from opening.error
            raise ConnectionError(str(opening.error)) from opening.error
        sock = opening.sock
        assert sock is not None
        if not opening.fresh() or readable(sock):  # old, or closed by the server
            sock.close()
            return None
        return Ready(sock, opening.context, host)

    def close(self) -> None:
        """Drop the connection opened ahead; one being opened ends at once (its socket
        is shut down, which ends a TLS handshake under way in another thread)."""
        with self._lock:
            self._closed = True
            opening, self._opening = self._opening, None
            raw = opening.raw if opening is not None and not opening.done.is_set() else None
        if raw is not None:
            _shut(raw)
        _discard(opening)


def _shut(sock: socket.socket) -> None:
    import socket

    with contextlib.suppress(OSError):  # closed already
        # The plain socket's shutdown, also for a TLS one: it wakes a thread blocked
        # reading, and leaves the TLS state to that thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _discard(opening: _Opening | None) -> None:
    if opening is not None and opening.done.is_set() and opening.sock is not None:
        opening.sock.close()


def _quietly(fn: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(Exception):  # the connecting thread meets it again
            fn()

    return run


def _spawn(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


def readable(sock: socket.socket) -> bool:
    """Whether an idle connection can no longer carry a request: the server closed it,
    or sent what nobody asked for. Over TLS 1.3 a server sends its session tickets after
    the handshake: records that carry no data, which a read consumes. They make the
    socket readable without making it unusable, so they are read here (nothing is
    lost: the connection is idle) and it counts as open if that was all."""
    import select

    try:
        if sys.platform != "win32" and hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            ready = bool(poller.poll(0))
        else:
            ready = bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True  # closed already
    return ready and not _only_tls_records(sock)


def _only_tls_records(sock: socket.socket) -> bool:
    """On a TLS socket with bytes waiting: whether they were records without data (the
    session tickets), now consumed, rather than a close or data."""
    import ssl

    if not isinstance(sock, ssl.SSLSocket):
        return False
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        sock.recv(1)  # b"" (closed) or a byte nobody asked for: unusable either way
    except ssl.SSLWantReadError:
        return True  # the records were read, and no data came with them
    except OSError:
        return False  # reset, or a TLS alert
    finally:
        sock.settimeout(timeout)
    return False
