"""What keeps a connection to the API ready: opened at once when text comes (TCP and TLS
only, while the device opens), and on a thread of its own (``kuhu-warm``) opened anew
shortly before the last goes stale, for a while after the last request."""

from __future__ import annotations

import threading

from ..api import KuhuClient

#: How long after ``warm_up`` the connection is first opened: a program that inits and
#: ends at once must not wait at its exit for this thread's imports (httpx, TLS), which
#: the exit does wait for (see ``api._exit``).
WARM_DELAY = 0.2
#: How long after the last request a connection is kept ready (a new one opened, TCP
#: and TLS only, before the last goes stale: see ``KuhuClient.keep_alive``).
KEEP_WARM_FOR = 120.0


class ConnectionKeeper:
    """Keeps ``client``'s connection ready; see the module docstring."""

    def __init__(self, client: KuhuClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None
        self._closing = threading.Event()

    def warm_up(self, *, now: bool = False) -> None:
        """Keep a connection to the API ready ahead of need, on a thread of its own:
        the HTTP client built and a connection opened ``WARM_DELAY`` seconds from now,
        then a new one opened shortly before the last goes stale
        (``KuhuClient.keep_alive``: servers close idle connections), for
        ``KEEP_WARM_FOR`` seconds after the last request. So the first request, and one
        after a pause, find one open instead of paying TCP and TLS round trips before
        their first byte. Only TCP and TLS: nothing is sent, nothing billed.

        ``now``: text was queued, so a request follows: see :meth:`open_ahead`."""
        if now:
            self.open_ahead()
        if not self.client.has_key:
            return  # no request will be made: the local voice speaks
        with self._lock:
            if self._keeper is not None and self._keeper.is_alive():
                return
            self._keeper = threading.Thread(
                target=self._keep_warm, args=(self._closing,), name="kuhu-warm", daemon=True
            )
            keeper = self._keeper
        keeper.start()

    def open_ahead(self) -> None:
        """A request follows: a connection that is not open (or not likely to be still)
        is opened at once, TCP and TLS only, for that request to take (see
        ``api._ahead``), while the device opens and httpx is imported."""
        if self.client.has_key and self.client.idle_for() >= self.client.keep_alive:
            self.client.open_ahead()

    def _keep_warm(self, closing: threading.Event) -> None:
        client = self.client
        if closing.wait(WARM_DELAY):
            return
        # A new connection is opened this long before the one at hand goes stale; the
        # keeper looks that often.
        margin = client.keep_alive / 4
        if client.idle_for(margin) >= client.keep_alive - margin:
            client.warm(margin)
        while not closing.wait(margin):
            idle = client.idle_for(margin) >= client.keep_alive - margin
            if idle and client.unused_for() < KEEP_WARM_FOR:
                client.warm(margin)

    def stop(self) -> None:
        """The keeper ends (not waited for: it may be importing httpx or opening a
        connection, and an engine dropped at once must not wait for that; it sees
        ``closing``, and a closed client opens nothing more). A later ``warm_up``
        starts another."""
        with self._lock:
            self._keeper = None
            closing, self._closing = self._closing, threading.Event()
        closing.set()
