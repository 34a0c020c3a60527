"""A hostile HTTP server on loopback: it reads each request whole, then answers with
whatever raw bytes (and pauses) a test scripts, as a broken or malicious server would."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: What a test answers with: given the connection, do anything with it.
Respond = Callable[[socket.socket], None]


def pcm_answer(pcm: bytes = b"\x01\x00" * 2205) -> bytes:
    """A healthy answer: raw PCM labelled as such."""
    head = f"HTTP/1.1 200 OK\r\nContent-Type: audio/L16\r\nContent-Length: {len(pcm)}\r\n\r\n"
    return head.encode() + pcm


def answer(body: bytes, content_type: str = "application/octet-stream", status: int = 200) -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Request:
    head: bytes
    body: bytes
    arrived: float
    #: When the client closed the connection (None while it is open).
    closed: float | None = None


@dataclass
class HostileServer:
    respond: Respond
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/api/ai/audiosave"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self._sock.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                req = _read_request(conn)
                if req is None:
                    return
                self.requests.append(req)
                with contextlib.suppress(OSError):  # the client hung up: what some tests do
                    self.respond(conn)
                # The client hanging up (or resetting) is what some tests wait for.
                conn.settimeout(60)
                try:
                    more = conn.recv(1, socket.MSG_PEEK)
                except OSError:
                    more = b""
                if not more:
                    req.closed = time.monotonic()
                    return


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
    except OSError:
        return None
    return Request(head, body, time.monotonic())


def drip_headers(conn: socket.socket) -> None:
    """A status line, then one header byte every half second, for ever."""
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for byte in b"X-Slow: " + b"a" * 10_000:
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def never_answer(conn: socket.socket) -> None:
    """Read the request, then say nothing until the client hangs up."""
    conn.settimeout(600)
    while conn.recv(1024):
        pass
