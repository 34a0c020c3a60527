"""Our httpx transport, built on httpcore's public interfaces only: the one place where
connections are made, so that the deadline guard and the connection opened ahead need
nothing private of httpx or httpcore.

- :class:`Wire` is an ``httpx.BaseTransport`` over ``httpcore.ConnectionPool``, HTTP/1.1
  only (our client sends one form POST at a time), with our TLS context and the pool's
  ``keepalive_expiry`` set to how long we trust an idle connection.
- :class:`Backend` is the pool's ``network_backend``: it hands out the connection opened
  ahead (``_ahead``) for the same host and port, else connects itself; and every stream it
  gives tells the guard of the attempt on this thread (``_netguard``) its socket, as it
  connects, writes and reads, so a guard can cut an attempt whose headers never come.

Imported when the client first sends (importing httpx and httpcore takes ~80 ms: not at
``pyttsx3.init``).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable, Iterator
from typing import Any, cast

import httpcore
import httpx

from .._config import Proxy
from ._ahead import Ahead, Ready, readable
from ._exit import released_at_exit
from ._netguard import stop_token, tell

#: httpcore's exception bases; each is raised again as httpx's class of the same name.
_HTTPCORE_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.ProxyError,
    httpcore.UnsupportedProtocol,
)


class _Stream(httpcore.NetworkStream):
    """httpcore's stream interface, ``start_tls`` written once for our two streams."""

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return self._start_tls(ssl_context, server_hostname, timeout)

    def _start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> httpcore.NetworkStream:
        raise NotImplementedError


class WatchedStream(_Stream):
    """A network stream that tells the current attempt's guard its socket."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        tell(self._inner.get_extra_info("socket"))
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        tell(self._inner.get_extra_info("socket"))
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def _start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> httpcore.NetworkStream:
        tell(self._inner.get_extra_info("socket"))  # the handshake reads too
        return WatchedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class Opened(_Stream):
    """A network stream over a connection opened ahead (TLS done already)."""

    def __init__(self, ready: Ready) -> None:
        self._ready = ready
        self._sock = ready.sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            while buffer:
                self._sock.settimeout(timeout)
                buffer = buffer[self._sock.send(buffer) :]
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def _start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None, timeout: float | None
    ) -> httpcore.NetworkStream:
        """Nothing to do: the handshake was made ahead, with this very context and host
        name (httpcore asks only for https, and only then was it opened with TLS)."""
        if ssl_context is not self._ready.context or server_hostname != self._ready.host:
            self.close()
            raise httpcore.ConnectError("the connection opened ahead used other TLS settings")
        return self

    def get_extra_info(self, info: str) -> Any:
        sock = self._sock
        if info == "ssl_object":
            return sock if self._ready.context is not None else None
        if info == "socket":
            return sock
        if info in ("client_addr", "server_addr"):
            return sock.getsockname() if info == "client_addr" else sock.getpeername()
        if info == "is_readable":
            return readable(sock)
        return None


def _taken(ahead: Ahead, host: str, port: int) -> httpcore.NetworkStream | None:
    """The connection ``ahead`` opened to ``host:port``, if any; its failure as httpcore's."""
    try:
        ready = ahead.take(host, port, stop_token())
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except ConnectionError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    return Opened(ready) if ready is not None else None


class Backend(httpcore.NetworkBackend):
    """The pool's network backend; see the module docstring."""

    def __init__(self, ahead: Ahead | None) -> None:
        self._inner = httpcore.SyncBackend()
        self.ahead = ahead

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if self.ahead is not None:
            opened = _taken(self.ahead, host, port)
            if opened is not None:
                return WatchedStream(opened)
        with released_at_exit():  # DNS and TCP only: nothing the exit must wait for
            return WatchedStream(
                self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            )

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return WatchedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    """httpcore's failures raised as httpx's (our callers know only httpx's)."""
    try:
        yield
    except _HTTPCORE_ERRORS as exc:
        for cls in type(exc).__mro__:
            mapped = getattr(httpx, cls.__name__, None)
            if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
                raise mapped(str(exc)) from exc
        raise httpx.TransportError(str(exc)) from exc  # pragma: no cover - all are named


class _Body(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx():
            yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            with _as_httpx():
                close()


class Wire(httpx.BaseTransport):
    """HTTP/1.1 through our :class:`Backend`, TLS with ``ssl_context``; idle connections
    are dropped after ``keep_alive`` seconds (the next one is then opened ahead)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext,
        ahead: Ahead | None,
        keep_alive: float,
        proxy: Proxy | None = None,
    ) -> None:
        self.backend = Backend(ahead)
        pool: dict[str, Any] = {
            "ssl_context": ssl_context,
            "max_connections": 32,
            "max_keepalive_connections": 8,
            "keepalive_expiry": keep_alive,
            "http1": True,
            "http2": False,
            "network_backend": self.backend,
        }
        self._pool: httpcore.ConnectionPool
        if proxy is None:
            self._pool = httpcore.ConnectionPool(**pool)
        else:  # https through CONNECT: the proxy relays TLS it cannot read
            self._pool = httpcore.HTTPProxy(proxy.url, proxy.auth, **pool)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=cast("Iterable[bytes]", request.stream),
            extensions=request.extensions,
        )
        with _as_httpx():
            resp = self._pool.handle_request(req)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(cast("Iterable[bytes]", resp.stream)),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        self._pool.close()
