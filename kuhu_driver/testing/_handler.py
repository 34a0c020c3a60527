"""The emulator's HTTP side: parse a request, ask the emulator, answer (or misbehave)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import socket
import struct
import time
from array import array
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qsl, quote_plus, urlsplit

from ..audio import wav_header
from ._banner import STATS_KEY_HEADER, STATS_PATH
from ._record import EmulatorRequest
from ._signal import other_rate

#: What the API says with each error code (its own words).
MESSAGES = {400: "参数传递不正确", 403: "没有权限", 500: "服务器内部错误"}


class Emulated(Protocol):
    """What the HTTP side asks of the emulator (``Emulated`` is one)."""

    @property
    def api_key(self) -> str: ...
    @property
    def api_secret(self) -> str | None: ...
    @property
    def latency(self) -> float: ...
    @property
    def seconds_per_billed_char(self) -> float: ...
    @property
    def slow_seconds(self) -> float: ...
    @property
    def error_style(self) -> str: ...
    @property
    def retry_after(self) -> str | None: ...
    @property
    def mp3_encoder(self) -> Callable[[bytes, int], bytes] | None: ...
    @property
    def idle_timeout(self) -> float | None: ...
    @property
    def requests(self) -> list[EmulatorRequest]: ...
    def _count_connection(self) -> int: ...
    def _headed(self) -> None: ...
    @property
    def rate_limit_breaches(self) -> int: ...
    @property
    def max_requests_in_window(self) -> int: ...
    def billed_total(self) -> int: ...
    def _arrive(self, method: str, params: dict[str, str]) -> EmulatorRequest: ...
    def _choose_fault(self, rec: EmulatorRequest) -> str | None: ...
    @property
    def outage(self) -> str | None: ...
    @property
    def outage_ended(self) -> float | None: ...

    def _check(
        self, raw: str, params: dict[str, str], sign: str | None
    ) -> tuple[int, str] | None: ...
    def _render(self, p: dict[str, str]) -> bytes: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    emulator: Emulated

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up (timeouts, resets we caused) are part of the tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: TCP_NODELAY, as web servers set it on keep-alive connections (nginx's default):
    #: else the body, written after the headers, waits for the client's delayed ACK on
    #: a reused connection (about 10 ms here), which no real server makes a client pay.
    disable_nagle_algorithm = True
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        emu = self.server.emulator
        self.opened = time.monotonic()
        self.number = emu._count_connection()
        if emu.idle_timeout is not None:
            # As servers do: a keep-alive connection idle this long is closed (the
            # timeout applies to the wait for the next request's first line).
            self.connection.settimeout(emu.idle_timeout)

    def do_HEAD(self) -> None:
        # Not a synthesis: a client opening its connection ahead (nothing is billed).
        emu = self.server.emulator
        emu._headed()
        if emu.outage is not None:
            self._fault(emu, emu.outage)
            return
        self.send_response(405)
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if urlsplit(self.path).path == STATS_PATH:
            emu = self.server.emulator
            given = self.headers.get(STATS_KEY_HEADER, "").encode()
            if not secrets.compare_digest(given, emu.api_key.encode()):
                self._send(403, "text/plain", b"the emulator's key is needed (X-Emulator-Key)")
                return
            self._stats()
            return
        self._handle("GET", urlsplit(self.path).query, "")

    def _stats(self) -> None:
        emu = self.server.emulator
        reqs = emu.requests
        body = json.dumps(
            {
                "requests": len(reqs),
                "ok": sum(1 for r in reqs if r.outcome == "ok"),
                "billed": emu.billed_total(),
                "rate_limit_breaches": emu.rate_limit_breaches,
                "max_requests_in_window": emu.max_requests_in_window,
                # Each request's text and when its answer was sent (time.monotonic(),
                # which every process on the machine shares).
                "log": [[r.text, r.outcome, r.finished] for r in reqs],
                # And when each arrived (how long after it was said a request left).
                "arrived": [r.arrived for r in reqs],
                "outage_ended": emu.outage_ended,
            }
        ).encode()
        self._send(200, "application/json", body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("latin-1")
        self._handle("POST", raw, raw)

    def _handle(self, method: str, raw: str, body: str) -> None:
        emu = self.server.emulator
        try:
            params = dict(parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict"))
        except UnicodeDecodeError:
            params = None
        rec = emu._arrive(method, params or {})
        rec.connection, rec.connection_opened = self.number, self.opened
        rec.sign = self.headers.get("sign")
        key_q = quote_plus(emu.api_key)
        rec.key_in_body = key_q in body or emu.api_key in body
        outside = self.path + "".join(f"{k}: {v}" for k, v in self.headers.items())
        rec.key_elsewhere = emu.api_key in outside or key_q in outside
        if emu.api_secret:
            whole = self.requestline + outside + body
            rec.secret_seen = emu.api_secret in whole or quote_plus(emu.api_secret) in whole
        try:
            self._answer(emu, rec, raw, params)
        except OSError:
            if not rec.outcome.startswith("fault:"):
                rec.outcome = "client-gone"  # the answer did not reach the client
            self.close_connection = True
        finally:
            rec.finished = time.monotonic()

    def _answer(
        self, emu: Emulated, rec: EmulatorRequest, raw: str, params: dict[str, str] | None
    ) -> None:
        outage = emu.outage
        if outage is not None:  # the whole service is down: no request gets further
            rec.outcome = f"fault:{outage}"
            self._fault(emu, outage)
            return
        if params is None:
            self._error(emu, rec, 400, "参数传递不正确: encoding")
            return
        problem = emu._check(raw, params, self.headers.get("sign"))
        if problem is not None:
            self._error(emu, rec, *problem)
            return
        rec.params.update({k: v for k, v in params.items() if k != "key"})
        fault = emu._choose_fault(rec)
        delay = emu.latency + emu.seconds_per_billed_char * rec.billed
        if fault == "slow":
            delay += emu.slow_seconds
        if delay > 0:
            time.sleep(delay)
        if fault in ("drip", "endless", "odd"):
            rec.outcome = f"fault:{fault}"
            self._hostile(fault, emu._render(params))
            return
        if fault in ("wav", "wav_other_rate", "mp3", "octet", "mislabelled"):
            rec.outcome = f"fault:{fault}"
            self._other_form(emu, fault, params)
            return
        if fault is not None and fault != "slow":
            rec.outcome = f"fault:{fault}"
            self._fault(emu, fault)
            return
        audio = emu._render(params)
        rec.audio_sha256 = hashlib.sha256(audio).hexdigest()
        ctype = {"pcm": "audio/L16", "wav": "audio/wav", "mp3": "audio/mp3"}[params["format"]]
        # Recorded before the answer leaves: a client may read the log the moment it has it.
        rec.outcome = "ok" if fault is None else "ok-slow"
        self._send(200, ctype, audio)

    def _send(self, status: int, ctype: str, body: bytes, *, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, code: int, msg: str) -> None:
        body = json.dumps({"code": code, "msg": msg}, ensure_ascii=False).encode("utf-8")
        self._send(status, "application/json;charset=utf-8", body)

    def _error(self, emu: Emulated, rec: EmulatorRequest, code: int, msg: str) -> None:
        rec.outcome = str(code)
        self._json(code if emu.error_style == "status" else 200, code, msg)

    def _fault(self, emu: Emulated, fault: str) -> None:
        if fault == "500":
            self._json(500, 500, MESSAGES[500])
        elif fault == "json_error":
            self._json(200, 500, MESSAGES[500])
        elif fault == "json403":
            self._json(200, 403, MESSAGES[403])
        elif fault == "html":
            self._send(
                200, "text/html", b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"
            )
        elif fault == "text":
            self._send(200, "text/plain", "服务繁忙，请稍后再试".encode())
        elif fault == "empty":
            self._send(200, "audio/L16", b"")
        elif fault == "huge":
            self._send(200, "audio/L16", b"\0" * 65536, length=60 * 1024 * 1024)
            self._abort(reset=False)
        elif fault == "truncated":
            body = b"\x01\x00" * 4096
            self._send(200, "audio/L16", body[: len(body) // 2], length=len(body))
            self._abort(reset=False)
        elif fault == "reset":
            self._abort(reset=True)
        elif fault == "429":
            body = json.dumps({"code": 429, "msg": "请求过于频繁"}, ensure_ascii=False).encode()
            self.send_response(429)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            if emu.retry_after is not None:
                self.send_header("Retry-After", emu.retry_after)
            self.end_headers()
            self.wfile.write(body)
        elif fault == "silent":
            # Never answer; end when the client hangs up (or after ten minutes).
            self.connection.settimeout(600)
            with contextlib.suppress(OSError):
                while self.connection.recv(1024):
                    pass
            self._abort(reset=False)

    def _other_form(self, emu: Emulated, fault: str, params: dict[str, str]) -> None:
        """The audio asked for as PCM, sent in another form a real server may use."""
        pcm = emu._render({**params, "format": "pcm"})
        rate = int(params["sample_rate"])
        if fault == "wav":
            self._send(200, "audio/wav", wav_header(rate, len(pcm)) + pcm)
        elif fault == "wav_other_rate":
            other = other_rate(rate)
            mono = emu._render({**params, "format": "pcm", "sample_rate": str(other)})
            stereo = array("h", mono)
            both = array("h", (x for x in stereo for _ in range(2)))
            body = wav_header(other, len(both) * 2, channels=2) + both.tobytes()
            self._send(200, "audio/wav", body)
        elif fault == "mp3":
            if emu.mp3_encoder is None:
                self._json(500, 500, "mp3 fault without an mp3_encoder")
                return
            self._send(200, "audio/mpeg", emu.mp3_encoder(pcm, rate))
        elif fault == "octet":
            self._send(200, "application/octet-stream", pcm)
        else:
            self._send(200, "text/html; charset=utf-8", pcm)

    def _hostile(self, fault: str, audio: bytes) -> None:
        if fault == "odd":
            self._send(200, "audio/L16", audio + b"\x07")
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/L16")
        if fault == "drip":
            self.send_header("Content-Length", str(len(audio)))
        else:
            self.send_header("Connection", "close")  # the body ends when we hang up
        self.end_headers()
        self.wfile.flush()
        if fault == "drip":
            for i in range(0, len(audio), 2):
                self.wfile.write(audio[i : i + 2])
                self.wfile.flush()
                time.sleep(0.5)
            return
        while True:  # endless: raises OSError once the client has gone
            self.wfile.write(audio or b"\x01\x00")
            self.wfile.flush()

    def _abort(self, *, reset: bool) -> None:
        self.close_connection = True
        if reset:
            # SO_LINGER with a zero timeout makes close() send RST: a connection reset.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


def serve_emulator(emu: Emulated, port: int) -> Server:
    """A server on 127.0.0.1:``port`` (0: any free one) answering for ``emu``."""
    server = Server(("127.0.0.1", port), _Handler)
    server.emulator = emu
    return server
