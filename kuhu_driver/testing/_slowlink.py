"""A slow network in front of the emulator: a TCP relay on 127.0.0.1 whose bytes take
as long as a real link's.

Each direction of each connection delivers a chunk ``rtt / 2`` seconds after it was
sent, after the chunks before it, and no faster than ``bandwidth`` bytes a second. A new
connection's first bytes wait one more round trip: the TCP handshake, which a real
client pays before it can send anything (on loopback the kernel completes it at once).
So a new HTTPS connection costs what it costs across a real network: TCP, then TLS,
then the request's own round trip. Closing is relayed with the same delay.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable


class SlowLink:
    """``SlowLink(("127.0.0.1", port), rtt=0.2)``: connect to ``link.port`` instead."""

    def __init__(
        self, target: tuple[str, int], *, rtt: float, bandwidth: float | None = None
    ) -> None:
        if rtt < 0 or (bandwidth is not None and bandwidth <= 0):
            raise ValueError("rtt must be >= 0 and bandwidth > 0 bytes a second")
        self.target = target
        self.rtt = rtt
        self.bandwidth = bandwidth
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SlowLink(rtt={self.rtt:g}, bandwidth={self.bandwidth}, to={self.target})"

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("the link is not running")
        return int(self._listener.getsockname()[1])

    def url(self, url: str) -> str:
        """``url`` (of the target, on 127.0.0.1) as reached through this link."""
        return url.replace(f"127.0.0.1:{self.target[1]}", f"127.0.0.1:{self.port}", 1)

    def start(self) -> SlowLink:
        if self._listener is None:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            self._listener = listener
            threading.Thread(target=self._accept, name="kuhu-slowlink", daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            socks, self._sockets = list(self._sockets), set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> SlowLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._join(client, server)

    def _join(self, client: socket.socket, server: socket.socket) -> None:
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.update((client, server))
        ends = [2]  # pipes still relaying; the last one to end closes both sockets

        def ended() -> None:
            with self._lock:
                ends[0] -= 1
                if ends[0]:
                    return
                self._sockets.difference_update((client, server))
            client.close()
            server.close()

        self._pipe(client, server, ended, handshake=True)
        self._pipe(server, client, ended, handshake=False)

    def _pipe(
        self, src: socket.socket, dst: socket.socket, ended: Callable[[], None], *, handshake: bool
    ) -> None:
        """Relay ``src`` to ``dst``: a reader that stamps each chunk with its arrival
        time, a writer that delivers it then."""
        chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
        # Where the link's sending side is free again (bandwidth), and the extra round
        # trip of a new connection (its TCP handshake) before the client's first bytes.
        state = {"free": time.monotonic(), "extra": self.rtt if handshake else 0.0}

        def read() -> None:
            while True:
                try:
                    data = src.recv(65536)
                except OSError:
                    data = b""
                now = time.monotonic()
                start = max(state["free"], now)
                if self.bandwidth is not None:
                    start += len(data) / self.bandwidth
                state["free"] = start
                chunks.put((start + self.rtt / 2 + state["extra"], data))
                state["extra"] = 0.0
                if not data:
                    return

        def write() -> None:
            while True:
                due, data = chunks.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                try:
                    if not data:
                        dst.shutdown(socket.SHUT_WR)
                        break
                    dst.sendall(data)
                except OSError:
                    with contextlib.suppress(OSError):
                        src.shutdown(socket.SHUT_RDWR)  # the reader ends too
                    break
            ended()

        threading.Thread(target=read, name="kuhu-slowlink-read", daemon=True).start()
        threading.Thread(target=write, name="kuhu-slowlink-write", daemon=True).start()
