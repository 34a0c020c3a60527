"""An emulator of the synthesis API, for our tests and yours.

``KuhuEmulator`` is a real HTTP server on 127.0.0.1 in a background thread. It follows
the API contract as we read it (``docs/api.md``): parameter checks (400), key and signature
checks (403), the 2000-billed-character limit, GET and POST, and both error styles
(HTTP status, or JSON in a 200). Its audio is a deterministic test signal, not a voice:
one short tone per billed character, so its length follows the text and ``rate``.

Run it standalone with ``python -m kuhu_driver.testing``; in pytest, use the
``kuhu_emulator`` fixture (registered by installing kuhu_driver).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .._closing import Closing
from .._model import SAMPLE_RATES
from .._text import MAX_BILLED_PER_REQUEST
from ..audio import wav_header
from ._handler import Server, serve_emulator
from ._record import EmulatorRequest
from ._signal import fake_mp3, no_zero_samples, tone
from ._vendor import vendor_billed

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

_VOICE_RE = re.compile(r"v3-voice-[0-9a-f]{32}")


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
    or ``"json"``), ``slow_seconds`` (how long the ``slow`` fault waits), ``idle_timeout``
    (keep-alive connections idle that long are closed), ``outage`` (the whole service
    down: every request fails with that fault), and fault injection with
    :meth:`fail_next` and :meth:`set_fault_plan`.
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
        #: Seconds a keep-alive connection may sit idle before the emulator closes it
        #: (None: never), as real servers do.
        self.idle_timeout: float | None = None
        #: A whole-service outage (None: none): every request, whatever it asks (and every
        #: HEAD), fails with this fault (``"500"``, ``"reset"``, ``"silent"``, ...),
        #: as a server that is down fails everything, probes included.
        self.outage: str | None = None
        #: When the last outage ended (``time.monotonic()``; None: none has).
        self.outage_ended: float | None = None
        #: TCP connections accepted, and HEAD requests (clients opening a connection ahead).
        self.connections = 0
        self.heads = 0
        self._port = port
        self._tls = (tls_cert, tls_key) if tls_cert else None
        self._plan: Callable[[EmulatorRequest], str | None] | None = None
        self._state = _State()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        return f"KuhuEmulator({where})"

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> KuhuEmulator:
        if self._server is not None:
            return self
        # Its audio path run once now: a real server is warm, and an emulator that paid
        # its own first-time costs in the first request would make that one look slow.
        self.render("预热。", voice="warm-up")
        server = serve_emulator(self, self._port)
        if self._tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls)
            # The handshake runs in the connection's own thread, on its first read, not in
            # the accepting one (a slow link would make each new client wait for others).
            server.socket = ctx.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
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
    def end_outage_after(self, seconds: float) -> None:
        """End the ``outage`` ``seconds`` from now (on a timer thread)."""

        def end() -> None:
            self.outage = None
            self.outage_ended = time.monotonic()

        timer = threading.Timer(seconds, end)
        timer.daemon = True
        timer.start()

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
        return vendor_billed(text) * self.audio_seconds_per_billed_char / rate

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
        parts = [no_zero_samples(digest)]
        for _ in range(vendor_billed(p["text"])):
            parts.append(tone(sr, 200 + 20 * rng.randrange(48), pitch, amp, seg_len))
        pcm = b"".join(parts)
        fmt = p["format"]
        if fmt == "pcm":
            return pcm
        if fmt == "wav":
            return wav_header(sr, len(pcm)) + pcm
        return fake_mp3(digest, len(pcm) / 2 / sr)

    # -- request handling (called on the server's threads) -----------------------------
    def _count_connection(self) -> int:
        with self._state.lock:
            self.connections += 1
            return self.connections

    def _headed(self) -> None:
        with self._state.lock:
            self.heads += 1

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
                billed=vendor_billed(text),
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
        if vendor_billed(text) > MAX_BILLED_PER_REQUEST:
            return 400, "参数传递不正确: text too long"
        if not _VOICE_RE.fullmatch(params.get("voice", "")):
            return 400, "参数传递不正确: voice"
        if self.known_voices is not None and params["voice"] not in self.known_voices:
            return 400, "参数传递不正确: voice 不存在"
        params.setdefault("format", "mp3")
        params.setdefault("sample_rate", "22050")
        if params["format"] not in ("mp3", "wav", "pcm"):
            return 400, "参数传递不正确: format"
        if not params["sample_rate"].isdigit() or int(params["sample_rate"]) not in SAMPLE_RATES:
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
