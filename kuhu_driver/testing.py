"""An emulator of the synthesis API, for our tests and yours.

``KuhuEmulator`` is a real HTTP server on 127.0.0.1 in a background thread. It follows
the contract of ``shared/api/README.md``: parameter checks (400), key and signature
checks (403), the 2000-billed-character limit, GET and POST, and both error styles
(HTTP status, or JSON in a 200). Its audio is a deterministic test signal, not a voice:
one short tone per billed character, so its length follows the text and ``rate``.

Run it standalone with ``python -m kuhu_driver.testing``; in pytest, use the
``kuhu_emulator`` fixture (registered by installing kuhu_driver).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import re
import secrets
import socket
import struct
import sys
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl, quote_plus, urlsplit

from ._closing import Closing
from .audio import wav_header
from .text import MAX_BILLED_PER_REQUEST, billed_chars

__all__ = ["FAULTS", "STATS_PATH", "EmulatorRequest", "Fault", "KuhuEmulator"]

Fault = Literal[
    "500",
    "reset",
    "json_error",
    "truncated",
    "slow",
    "html",
    "text",
    "empty",
    "json403",
    "huge",
    "429",
    "drip",
    "silent",
    "endless",
    "odd",
    "wav",
    "wav_other_rate",
    "mp3",
    "octet",
    "mislabelled",
]
#: What each fault does (hostile or broken servers, for tests of the client's defences).
FAULTS: dict[str, str] = {
    "500": "HTTP 500 with a JSON error",
    "reset": "the connection is reset before any answer",
    "json_error": "a JSON error with code 500 in an HTTP 200",
    "truncated": "half the announced audio, then the connection closes",
    "slow": "the right audio after slow_seconds",
    "html": "an HTML error page in an HTTP 200",
    "text": "a plain-text message in an HTTP 200",
    "empty": "an empty HTTP 200",
    "json403": "a JSON error with code 403 in an HTTP 200",
    "huge": "announces 60 MB, sends 64 KB, closes",
    "429": "HTTP 429 with Retry-After: retry_after seconds",
    "drip": "the right audio's headers, then 2 bytes every half second",
    "silent": "reads the request and never answers",
    "endless": "audio without a length, streamed until the client hangs up",
    "odd": "the right audio plus one stray byte (complete, odd length)",
    # Answers a real server may give to format=pcm:
    "wav": "the right PCM inside a WAV container",
    "wav_other_rate": "the audio as a stereo WAV at another sample rate than asked",
    "mp3": "the audio as MP3 (needs mp3_encoder set)",
    "octet": "the right PCM labelled application/octet-stream",
    "mislabelled": "the right PCM labelled text/html",
}

#: GET this path for the emulator's counters as JSON (for an emulator in another process).
STATS_PATH = "/_emulator/stats"
_SAMPLE_RATES = {8000, 16000, 22050, 24000, 44100, 48000}
_VOICE_RE = re.compile(r"v3-voice-[0-9a-f]{32}")
_MESSAGES = {400: "参数传递不正确", 403: "没有权限", 500: "服务器内部错误"}


@dataclass
class EmulatorRequest:
    """One request as the emulator saw it. ``params`` never holds the key."""

    method: str
    params: dict[str, str]
    billed: int
    arrived: float
    attempt: int = 1
    finished: float | None = None
    outcome: str = "pending"
    audio_sha256: str | None = None
    #: Where the emulator found the key and the secret in the raw request.
    key_in_body: bool = False
    key_elsewhere: bool = False
    secret_seen: bool = False
    sign: str | None = None

    @property
    def text(self) -> str:
        return self.params.get("text", "")


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[EmulatorRequest] = field(default_factory=list)
    arrivals: deque[float] = field(default_factory=deque)
    breaches: int = 0
    max_in_window: int = 0
    attempts: dict[str, int] = field(default_factory=dict)
    queued_faults: deque[str] = field(default_factory=deque)
    text_faults: dict[str, deque[str]] = field(default_factory=dict)


class KuhuEmulator(Closing):
    """The synthesis API on loopback. Use as a context manager, or ``start()``/``stop()``.

    Knobs (attributes, changeable while it runs): ``latency`` (seconds before any
    answer), ``seconds_per_billed_char`` (synthesis time), ``error_style`` (``"status"``
    or ``"json"``), ``slow_seconds`` (how long the ``slow`` fault waits), and fault
    injection with :meth:`fail_next` and :meth:`set_fault_plan`.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        latency: float = 0.0,
        seconds_per_billed_char: float = 0.0,
        error_style: Literal["status", "json"] = "status",
        audio_seconds_per_billed_char: float = 0.08,
        slow_seconds: float = 5.0,
        mp3_encoder: Callable[[bytes, int], bytes] | None = None,
        retry_after: str | None = "1",
        known_voices: set[str] | None = None,
        rate_limit: int = 20,
        port: int = 0,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        self.api_key = api_key or f"emu-{secrets.token_hex(12)}"
        self.api_secret = api_secret
        self.latency = latency
        self.seconds_per_billed_char = seconds_per_billed_char
        self.error_style = error_style
        self.audio_seconds_per_billed_char = audio_seconds_per_billed_char
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        #: Voice ids it knows (None: any well-formed id), as an account with clones would.
        self.known_voices = known_voices
        #: Encodes mono 16-bit PCM at a rate as MP3, for the ``mp3`` fault.
        self.mp3_encoder = mp3_encoder
        self.rate_limit = rate_limit
        self._port = port
        self._tls = (tls_cert, tls_key) if tls_cert else None
        self._plan: Callable[[EmulatorRequest], str | None] | None = None
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        return f"KuhuEmulator({where})"

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> KuhuEmulator:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.emulator = self
        if self._tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="kuhu-emulator",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> KuhuEmulator:
        return self.start()

    def close(self) -> None:
        """Same as :meth:`stop`; the end of a ``with`` block calls it."""
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/api/ai/audiosave"

    def env(self) -> dict[str, str]:
        """``KUHU_*`` variables that point a program at this emulator."""
        env = {"KUHU_API_KEY": self.api_key, "KUHU_API_URL": self.url}
        if self.api_secret:
            env["KUHU_API_SECRET"] = self.api_secret
        return env

    # -- fault injection ---------------------------------------------------------------
    def fail_next(self, *faults: str) -> None:
        """The next requests (after the key check) fail with these faults, in turn."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}: one of {', '.join(FAULTS)}")
        with self._state.lock:
            self._state.queued_faults.extend(faults)

    def fail_text(self, text: str, *faults: str) -> None:
        """The next requests for ``text`` fail with these faults, in turn (others are spared)."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}: one of {', '.join(FAULTS)}")
        with self._state.lock:
            self._state.text_faults.setdefault(text, deque()).extend(faults)

    def set_fault_plan(self, plan: Callable[[EmulatorRequest], str | None] | None) -> None:
        """Decide each request's fault (or ``None``) from its record, e.g. its ``attempt``."""
        self._plan = plan

    # -- what it saw --------------------------------------------------------------------
    @property
    def requests(self) -> list[EmulatorRequest]:
        with self._state.lock:
            return list(self._state.log)

    @property
    def rate_limit_breaches(self) -> int:
        """Requests that began while more than ``rate_limit`` had begun within a second."""
        with self._state.lock:
            return self._state.breaches

    @property
    def max_requests_in_window(self) -> int:
        with self._state.lock:
            return self._state.max_in_window

    def billed_total(self) -> int:
        """Billed characters of the requests that returned audio."""
        return sum(r.billed for r in self.requests if r.outcome == "ok")

    def reset_log(self) -> None:
        with self._state.lock:
            self._state.log.clear()
            self._state.arrivals.clear()
            self._state.breaches = 0
            self._state.max_in_window = 0
            self._state.attempts.clear()

    # -- audio --------------------------------------------------------------------------
    def render(
        self,
        text: str,
        *,
        voice: str,
        format: str = "pcm",
        sample_rate: int = 22050,
        volume: int = 50,
        rate: float = 1.0,
        pitch: float = 1.0,
    ) -> bytes:
        """The exact bytes this emulator answers for these parameters."""
        params = {
            "text": text,
            "voice": voice,
            "format": format,
            "sample_rate": str(sample_rate),
            "volume": str(volume),
            "rate": str(float(rate)),
            "pitch": str(float(pitch)),
        }
        return self._render(params)

    def pcm_duration(self, text: str, *, rate: float = 1.0) -> float:
        """Seconds of audio the emulator makes for ``text``."""
        return billed_chars(text) * self.audio_seconds_per_billed_char / rate

    def _render(self, p: dict[str, str]) -> bytes:
        sr = int(p["sample_rate"])
        volume = int(float(p["volume"]))
        rate = float(p["rate"])
        pitch = float(p["pitch"])
        canon = json.dumps(
            [p["text"], p["voice"], sr, volume, rate, pitch], ensure_ascii=False
        ).encode("utf-8")
        digest = hashlib.sha256(canon).digest()
        seg_len = max(1, round(sr * self.audio_seconds_per_billed_char / rate))
        amp = round(12000 * volume / 100)
        rng = random.Random(digest)
        # A 16-sample fingerprint, then one tone per billed character.
        parts = [_no_zero_samples(digest)]
        for _ in range(billed_chars(p["text"])):
            parts.append(_tone(sr, 200 + 20 * rng.randrange(48), pitch, amp, seg_len))
        pcm = b"".join(parts)
        fmt = p["format"]
        if fmt == "pcm":
            return pcm
        if fmt == "wav":
            return wav_header(sr, len(pcm)) + pcm
        return _fake_mp3(digest, len(pcm) / 2 / sr)

    # -- request handling (called on the server's threads) -----------------------------
    def _arrive(self, method: str, params: dict[str, str]) -> EmulatorRequest:
        now = time.monotonic()
        safe = {k: v for k, v in params.items() if k != "key"}
        text = safe.get("text", "")
        st = self._state
        with st.lock:
            st.arrivals.append(now)
            while st.arrivals and now - st.arrivals[0] >= 1.0:
                st.arrivals.popleft()
            if len(st.arrivals) > self.rate_limit:
                st.breaches += 1
            st.max_in_window = max(st.max_in_window, len(st.arrivals))
            st.attempts[text] = st.attempts.get(text, 0) + 1
            rec = EmulatorRequest(
                method=method,
                params=safe,
                billed=billed_chars(text),
                arrived=now,
                attempt=st.attempts[text],
            )
            st.log.append(rec)
        return rec

    def _choose_fault(self, rec: EmulatorRequest) -> str | None:
        with self._state.lock:
            mine = self._state.text_faults.get(rec.text)
            if mine:
                return mine.popleft()
            if self._state.queued_faults:
                return self._state.queued_faults.popleft()
        plan = self._plan
        return plan(rec) if plan is not None else None

    def _check(self, raw: str, params: dict[str, str], sign: str | None) -> tuple[int, str] | None:
        if not secrets.compare_digest(params.get("key", "").encode(), self.api_key.encode()):
            return 403, "没有权限: key"
        if self.api_secret is not None:
            want = hashlib.md5((raw + self.api_secret).encode("utf-8")).hexdigest()  # noqa: S324
            if not sign or not secrets.compare_digest(sign.lower().encode(), want.encode()):
                return 403, "没有权限: sign"
        text = params.get("text", "")
        if not text.strip():
            return 400, "参数传递不正确: text"
        if billed_chars(text) > MAX_BILLED_PER_REQUEST:
            return 400, "参数传递不正确: text too long"
        if not _VOICE_RE.fullmatch(params.get("voice", "")):
            return 400, "参数传递不正确: voice"
        if self.known_voices is not None and params["voice"] not in self.known_voices:
            return 400, "参数传递不正确: voice 不存在"
        params.setdefault("format", "mp3")
        params.setdefault("sample_rate", "22050")
        if params["format"] not in ("mp3", "wav", "pcm"):
            return 400, "参数传递不正确: format"
        if not params["sample_rate"].isdigit() or int(params["sample_rate"]) not in _SAMPLE_RATES:
            return 400, "参数传递不正确: sample_rate"
        for name, low, high, default in (
            ("volume", 0.0, 100.0, "50"),
            ("rate", 0.5, 2.0, "1.0"),
            ("pitch", 0.5, 2.0, "1.0"),
        ):
            value = params.setdefault(name, default)
            try:
                x = float(value)
            except ValueError:
                return 400, f"参数传递不正确: {name}"
            if not math.isfinite(x) or not low <= x <= high:
                return 400, f"参数传递不正确: {name}"
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    emulator: KuhuEmulator

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that hang up (timeouts, resets we caused) are part of the tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path == STATS_PATH:
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
        self, emu: KuhuEmulator, rec: EmulatorRequest, raw: str, params: dict[str, str] | None
    ) -> None:
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

    def _error(self, emu: KuhuEmulator, rec: EmulatorRequest, code: int, msg: str) -> None:
        rec.outcome = str(code)
        self._json(code if emu.error_style == "status" else 200, code, msg)

    def _fault(self, emu: KuhuEmulator, fault: str) -> None:
        if fault == "500":
            self._json(500, 500, _MESSAGES[500])
        elif fault == "json_error":
            self._json(200, 500, _MESSAGES[500])
        elif fault == "json403":
            self._json(200, 403, _MESSAGES[403])
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

    def _other_form(self, emu: KuhuEmulator, fault: str, params: dict[str, str]) -> None:
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


def other_rate(rate: int) -> int:
    """The sample rate a ``wav_other_rate`` answer uses when ``rate`` was asked."""
    return 16000 if rate != 16000 else 24000


def _no_zero_samples(pcm: bytes) -> bytes:
    """Zero samples made 1: a capture of a stream that writes zeros while idle can then
    drop every zero and still hold exactly this signal."""
    samples = array("h", pcm)
    for i in range(len(samples)):
        if not samples[i]:
            samples[i] = 1
    return samples.tobytes()


@lru_cache(maxsize=4096)
def _tone(sr: int, freq: int, pitch: float, amp: int, n: int) -> bytes:
    f = freq * pitch
    # Fade the edges (5 ms) so the test signal has no clicks.
    fade = max(1, min(n // 2, sr // 200))
    samples = array(
        "h",
        (
            # Never 0: see _no_zero_samples.
            int(amp * min(1.0, i / fade, (n - i) / fade) * math.sin(2 * math.pi * f * i / sr)) or 1
            for i in range(n)
        ),
    )
    if sys.byteorder == "big":  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def _fake_mp3(digest: bytes, seconds: float) -> bytes:
    """An ID3 tag, then silent MPEG-1 Layer III frames (mono, 128 kbit/s, 44.1 kHz)."""
    tag_text = b"\x00" + digest.hex().encode()
    frame = b"TXXX" + struct.pack(">I", len(tag_text)) + b"\x00\x00" + tag_text
    size = len(frame)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    header = b"ID3\x03\x00\x00" + synchsafe + frame
    n_frames = max(1, math.ceil(seconds * 44100 / 1152))
    mp3_frame = b"\xff\xfb\x90\xc0" + b"\x00" * 413
    return header + mp3_frame * n_frames


if __name__ == "__main__":
    from .cli import emulator_main

    raise SystemExit(emulator_main())
