"""A slow network in front of the emulator: a TCP relay on 127.0.0.1 whose bytes take
as long as a real link's.

Each direction of each connection delivers a chunk ``rtt / 2`` seconds after it was
sent, after the chunks before it, and no faster than ``bandwidth`` bytes a second. A new
connection's first bytes wait one more round trip: the TCP handshake, which a real
client pays before it can send anything (on loopback the kernel completes it at once).
So a new HTTPS connection costs what it costs across a real network: TCP, then TLS,
then the request's own round trip. Closing is relayed with the same delay.

The link also counts round trips as it sees them, without a clock: ``link.round_trips()``
is one for each new connection (its TCP handshake) and one for each flight of the
client's bytes sent after the server's last reached it on that connection. A TLS 1.3 request on
a new connection is three; one on a connection already open is one.
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
        self._trips: list[float] = []  # when each round trip began (monotonic)
        self._spoke_last: dict[int, list[str]] = {}  # by open connection: who sent last

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

    def round_trips(self, since: float = 0.0) -> int:
        """The round trips begun at or after ``since`` (a ``time.monotonic()`` reading):
        new connections, and flights of the client's bytes that follow the server's."""
        with self._lock:
            return sum(1 for t in self._trips if t >= since)

    def answered(self) -> bool:
        """Whether on every open connection the server's bytes reached the client after
        the client last spoke (a TLS 1.3 server's session tickets answer the client's
        finish): the client's next bytes begin a round trip of their own."""
        with self._lock:
            return all(side[0] == "server" for side in self._spoke_last.values())

    def _trip(self) -> None:
        with self._lock:
            self._trips.append(time.monotonic())

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
        self._trip()  # the TCP handshake
        spoke = ["server"]  # who sent last: the client's next bytes begin a new flight
        with self._lock:
            self._spoke_last[id(spoke)] = spoke

        def ended() -> None:
            with self._lock:
                ends[0] -= 1
                if ends[0]:
                    return
                self._sockets.difference_update((client, server))
                del self._spoke_last[id(spoke)]
            client.close()
            server.close()

        self._pipe(client, server, ended, handshake=True, spoke=spoke)
        self._pipe(server, client, ended, handshake=False, spoke=spoke)

    def _spoke(self, spoke: list[str], side: str, data: bytes) -> None:
        with self._lock:
            if not data or spoke[0] == side:
                return
            spoke[0] = side
        if side == "client":
            self._trip()

    def _pipe(
        self,
        src: socket.socket,
        dst: socket.socket,
        ended: Callable[[], None],
        *,
        handshake: bool,
        spoke: list[str],
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
                if handshake:  # the client's bytes count as they leave it
                    self._spoke(spoke, "client", data)
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
                    if not handshake:
                        # The server's, as they reach the client: marked before they
                        # do, or the client's answer could be read (on the other pipe's
                        # thread) before the mark, and counted as no flight of its own.
                        self._spoke(spoke, "server", data)
                    dst.sendall(data)
                except OSError:
                    with contextlib.suppress(OSError):
                        src.shutdown(socket.SHUT_RDWR)  # the reader ends too
                    break
            ended()

        threading.Thread(target=read, name="kuhu-slowlink-read", daemon=True).start()
        threading.Thread(target=write, name="kuhu-slowlink-write", daemon=True).start()
