"""The line to the API: one attempt on the wire at a time per request, over connections
this object owns. It builds the HTTP client and the TLS context on first use (so
``pyttsx3.init`` stays quick), opens connections ahead (``_ahead``), and cuts an
exchange short at its deadline, at its request's stop, or when it is closed (the
guards of ``_transport``). It knows nothing of keys, retries or what the answer means.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._cancel import CancelToken
from ..errors import StoppedError
from ._ahead import Ahead
from ._answer import RawAnswer
from ._exit import held_at_exit, track
from ._proxy import proxy_for
from ._request import Endpoint
from ._transport import Cut, Guard, post, tls_context

if TYPE_CHECKING:
    import ssl

    import httpx

    from .._config import Proxy


class Line:
    """Connections to ``url``; see the module docstring. ``transport``: a mock, for
    tests (checked by the client); ``keep_alive``: how long an idle connection is
    trusted; ``connect_timeout``: the longest a connection may take to open."""

    def __init__(
        self,
        url: Endpoint,
        *,
        keep_alive: float,
        connect_timeout: float,
        transport: httpx.BaseTransport | None = None,
        proxy: str | None = None,
    ) -> None:
        self.url = url
        self.keep_alive = keep_alive
        self.connect_timeout = connect_timeout
        self._transport = transport
        self._proxy_setting = proxy  # KUHU_PROXY; the system's is looked up on first use
        self._proxy: Proxy | None = None
        self._proxy_found = False
        self.ahead = Ahead(keep_alive)  # a connection opened before the request using it
        self._http_client: httpx.Client | None = None
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._tls_lock = threading.Lock()
        self._inflight: set[Guard] = set()
        self._sending = 0  # requests between sending and the answer
        self._used = float("-inf")  # when a connection last carried anything
        track(self)  # closed at exit, so that no thread of ours is left inside OpenSSL

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return  # once is enough (and at finalization nothing more may be imported)
            self._closed = True
            http, self._http_client = self._http_client, None
            guards = list(self._inflight)
        for guard in guards:
            guard.fire(Cut.CLOSED)
        self.ahead.close()
        if http is not None:
            http.close()

    def open_ahead(self, margin: float = 0.0) -> bool:
        """Open a new connection now (TCP and TLS, on threads of their own), for the next
        request that needs one: nothing is sent. False if none was started (one is being
        opened, or fresh for more than ``margin`` s; closed; a mock transport)."""
        if self._transport is not None or self._closed or self.proxy() is not None:
            return False  # through a proxy, the first request opens its tunnel itself
        parts = urlsplit(self.url.bare)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        context = self._context if tls else None
        return self.ahead.open(
            parts.hostname or "", port, context, self.connect_timeout, margin=margin
        )

    def idle_for(self, margin: float = 0.0) -> float:
        """Seconds since a connection last carried anything (infinite: never; 0 while a
        request is being sent, or a connection is being opened or stays fresh for more
        than ``margin`` s: another opened ahead then would be a second one)."""
        if self.ahead.busy(margin):
            return 0.0
        with self._lock:
            if self._sending:
                return 0.0
        return time.monotonic() - self._used

    def sending(self, delta: int) -> None:
        """A request (all its attempts) begins (+1) or ends (-1)."""
        with self._lock:
            self._sending += delta

    def http(self) -> httpx.Client:
        """The HTTP client, built on first use under a lock of its own (importing httpx
        and loading the CA roots take 100 ms or more), so that close() never waits."""
        with self._build_lock:
            with self._lock:
                if self._closed:
                    raise StoppedError("the client was closed")
                if self._http_client is not None:
                    return self._http_client
            with held_at_exit():  # importing httpx, loading the CA roots in OpenSSL
                built = self._build_http()
            with self._lock:
                if not self._closed:
                    self._http_client = built
                    return built
            built.close()
            raise StoppedError("the client was closed")

    def proxy(self) -> Proxy | None:
        """The proxy connections go through (``api._proxy``), found on first use."""
        with self._tls_lock:
            if not self._proxy_found:
                self._proxy = proxy_for(self.url.bare, self._proxy_setting)
                self._proxy_found = True
            return self._proxy

    def _context(self) -> ssl.SSLContext:
        """The TLS context, built once (by whichever needs it first: the connection
        opened ahead, or the HTTP client)."""
        with self._tls_lock:
            if self._tls is None:
                with held_at_exit():  # OpenSSL loads the CA roots
                    self._tls = tls_context()
            return self._tls

    def _build_http(self) -> httpx.Client:
        import httpx

        transport = self._transport
        if transport is None:
            from ._wire import Wire

            transport = Wire(self._context(), self.ahead, self.keep_alive, self.proxy())
        return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)

    def exchange(
        self,
        body: bytes,
        headers: dict[str, str],
        *,
        limit: float,
        cap: int,
        billed: int,
        cancel: CancelToken | None,
    ) -> RawAnswer:
        """POST ``body`` and read the whole answer within ``limit`` seconds; ``close()``,
        ``cancel`` and the deadline cut it short."""
        if self._closed:
            raise StoppedError("the client was closed")
        guard = Guard()
        timer = threading.Timer(limit, guard.fire, args=(Cut.DEADLINE,))
        timer.daemon = True
        timer.name = "kuhu-deadline"
        with self._lock:
            self._inflight.add(guard)
        forget = cancel.on_set(lambda: guard.fire(Cut.STOPPED)) if cancel is not None else None
        try:
            timer.start()
            with held_at_exit():
                http = self.http()
                proxy = self.proxy() if self._transport is None else None
                return post(
                    http,
                    self.url,
                    body,
                    headers,
                    limit=limit,
                    cap=cap,
                    billed=billed,
                    guard=guard,
                    via=None if proxy is None else str(proxy),
                )
        finally:
            timer.cancel()
            if forget is not None:
                forget()
            with self._lock:
                self._inflight.discard(guard)
            self._used = time.monotonic()
