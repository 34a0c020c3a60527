"""HTTP only: build the form, sign it, send it, retry, rate-limit, check the answer."""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import logging
import math
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, quote_plus, urlencode, urlsplit, urlunsplit

from ._closing import Closing
from .audio import FORMATS, check_audio, pcm_from_answer
from .config import Settings, resolve_settings
from .errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    CancelledError,
    ConfigError,
    KuhuError,
    ServerError,
    TLSError,
    TransportError,
    TruncatedResponseError,
)
from .ratelimit import RateLimiter, shared_limiter
from .text import MAX_BILLED_PER_REQUEST, billed_chars, clean_text
from .voices import DEFAULT_VOICE, resolve_voice_id

if TYPE_CHECKING:
    import httpx

__all__ = ["SAMPLE_RATES", "Answer", "Audio", "KuhuClient", "Request", "build_request"]

logger = logging.getLogger(__name__)

SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
#: The longest wait a server's Retry-After may ask of us between two attempts.
RETRY_AFTER_CAP = 10.0
#: No answer is read past this, whatever the text (see ``answer_cap`` for the real bound).
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
#: The slowest speech we expect, in seconds per billed character at rate 1.0 (about five
#: times slower than any voice speaks), and a fixed allowance for leading silence.
_SECONDS_PER_BILLED = 0.6
_SECONDS_EXTRA = 3.0
_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=utf-8"
#: How the platforms word a failed name lookup (Linux, macOS, Windows).
_DNS_FAILURE = (
    r"name or service not known|temporary failure in name resolution|nodename nor servname"
    r"|getaddrinfo failed|no address associated|name resolution"
)


@dataclass(frozen=True)
class Request:
    """Checked parameters of one synthesis request, in the API's own units."""

    text: str
    voice: str
    format: str
    sample_rate: int
    volume: int
    rate: float
    pitch: float

    @property
    def billed(self) -> int:
        return billed_chars(self.text)

    def answer_cap(self) -> int:
        """The most bytes an answer to this request can plausibly hold: the slowest speech
        for its billed characters at its rate, as 16-bit stereo at its sample rate, plus
        room for headers. A server streaming past it is not sending this text's audio."""
        seconds = _SECONDS_EXTRA + _SECONDS_PER_BILLED * self.billed / self.rate
        return int(seconds * self.sample_rate * 2 * 2) + 64 * 1024

    def form(self) -> list[tuple[str, str]]:
        """The form fields, key excluded, in the order they are sent."""
        return [
            ("text", self.text),
            ("voice", self.voice),
            ("format", self.format),
            ("sample_rate", str(self.sample_rate)),
            ("volume", str(self.volume)),
            ("rate", _num(self.rate)),
            ("pitch", _num(self.pitch)),
        ]


@dataclass(frozen=True)
class Answer:
    """What the server sent for the last request that succeeded (for diagnostics)."""

    status: int
    content_type: str
    kind: str
    size: int
    seconds: float


@dataclass(frozen=True)
class Audio:
    """Audio the API returned: ``data`` is raw PCM at ``sample_rate`` for format ``pcm``."""

    data: bytes
    format: str
    sample_rate: int


def _num(x: float) -> str:
    return f"{x:.1f}" if float(x).is_integer() else f"{round(x, 3)}"


def _number(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x) or not low <= x <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return x


def build_request(
    text: str,
    *,
    voice: str = DEFAULT_VOICE.id,
    format: str = "pcm",
    sample_rate: int = 22050,
    volume: float = 50,
    rate: float = 1.0,
    pitch: float = 1.0,
) -> Request:
    """Check every parameter (``TypeError``/``ValueError``): nothing invalid is ever sent."""
    text = clean_text(text)
    billed = billed_chars(text)
    if billed > MAX_BILLED_PER_REQUEST:
        raise ValueError(
            f"text bills {billed} characters; one request takes at most "
            f"{MAX_BILLED_PER_REQUEST} (the driver and speak() split long text for you)"
        )
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise TypeError(f"sample_rate must be an int, not {type(sample_rate).__name__}")
    if sample_rate not in SAMPLE_RATES:
        raise ValueError(
            f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, not {sample_rate}"
        )
    return Request(
        text=text,
        voice=resolve_voice_id(voice),
        format=format,
        sample_rate=sample_rate,
        volume=round(_number("volume", volume, 0, 100)),
        rate=_number("rate", rate, 0.5, 2),
        pitch=_number("pitch", pitch, 0.5, 2),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    """A checked endpoint URL."""

    url: str
    host: str

    def __str__(self) -> str:
        """The URL for logs and messages: a user and password in it are hidden."""
        parts = urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self.url
        netloc = "***@" + parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> Endpoint:
    """An endpoint we will talk to: https, or plain http on loopback only (the emulator).

    Spaces around it are dropped; a space or control character inside is an error."""
    if not isinstance(url, str):
        raise ConfigError("the API URL (KUHU_API_URL) must be a string")
    url = url.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise ConfigError("the API URL (KUHU_API_URL) contains a space, tab or control character")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError("the API URL is not a valid URL") from exc
    if parts.scheme == "https" and host:
        return Endpoint(url, host)
    if parts.scheme == "http" and _is_loopback(host):
        return Endpoint(url, host)
    raise ConfigError(
        f"refusing {parts.scheme or 'a schemeless'} URL for host {host or '?'}: "
        "the API must be reached over https (plain http is allowed only for a local "
        "emulator on 127.0.0.1 or localhost)"
    )


def _tls_context() -> ssl.SSLContext:
    """Certificate and host name checks on, trusting certifi's roots only.

    Built here, not from the environment: variables such as SSL_CERT_FILE must not be able
    to make an endpoint trusted that would otherwise be refused.
    """
    import certifi

    ctx = ssl.create_default_context(cafile=certifi.where())
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class _Guard:
    """Ends one attempt's answer early: at its deadline, or when its job is cancelled.

    Shutting the socket down wakes a read blocked in another thread (closing it would
    not), so a server that drips bytes or stalls mid-answer cannot hold the attempt
    past its deadline, nor a stopped job past its ``stop()``."""

    def __init__(self, cancel: threading.Event | None) -> None:
        self.cancel = cancel
        self.reason: str | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, resp: httpx.Response) -> None:
        stream = resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock if isinstance(sock, socket.socket) else None
            fired = self.reason is not None
        if fired:
            self._shut()

    def fire(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self._shut()

    def _shut(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to wake
                sock.shutdown(socket.SHUT_RDWR)


class KuhuClient(Closing):
    """A client of the synthesis API. One ``httpx.Client`` each; close it, or use ``with``.

    Settings not given come from ``KUHU_API_KEY``, ``KUHU_API_SECRET`` and
    ``KUHU_API_URL``. TLS certificates are always verified; nothing turns that off.

    ``timeout`` bounds one attempt, from connecting to the answer's last byte
    (``KUHU_TIMEOUT``); ``deadline`` bounds one request, all attempts and the waits
    between them included (``KUHU_DEADLINE``).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        api_secret: str | None = None,
        api_url: str | None = None,
        settings: Settings | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 3,
        backoff_base: float = 0.25,
        backoff_cap: float = 4.0,
        rate_limiter: RateLimiter | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        if settings is None:
            settings = resolve_settings(api_key=api_key, api_secret=api_secret, api_url=api_url)
        self.timeout = settings.timeout if timeout is None else timeout
        self.deadline = settings.deadline if deadline is None else deadline
        for name, value in (("timeout", self.timeout), ("deadline", self.deadline)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number of seconds")
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds")
        self._transport = transport
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._key = settings.api_key
        self._secret = settings.api_secret
        self.url = check_url(settings.api_url)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_response_bytes = max_response_bytes
        self._limiter = rate_limiter or shared_limiter(self._key, self.url.url)
        # httpx and the TLS context are made on first use: pyttsx3.init("kuhu") stays quick.
        self._http_client: httpx.Client | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._inflight: set[_Guard] = set()
        #: The last answer that gave audio, as the server sent it.
        self.last_answer: Answer | None = None
        #: Billed characters of requests that returned audio.
        self.billed_chars_sent = 0
        #: HTTP attempts made, successful or not.
        self.attempts_made = 0

    @property
    def has_key(self) -> bool:
        """Whether an API key is configured (without one, speech uses the local voice)."""
        return bool(self._key)

    def __repr__(self) -> str:
        return f"KuhuClient(api_url={str(self.url)!r}, signed={self._secret is not None})"

    def close(self) -> None:
        with self._lock:
            self._closed = True
            http, self._http_client = self._http_client, None
            guards = list(self._inflight)
        for guard in guards:
            guard.fire("the client was closed")
        if http is not None:
            http.close()

    def abort(self, cancel: threading.Event) -> None:
        """End at once the answers being read for requests sent with this ``cancel``."""
        with self._lock:
            guards = [g for g in self._inflight if g.cancel is cancel]
        for guard in guards:
            guard.fire("stopped")

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._http_client is None:
                import httpx

                t = self.timeout
                self._http_client = httpx.Client(
                    timeout=httpx.Timeout(connect=min(5.0, t), read=t, write=t, pool=t),
                    transport=self._transport
                    or httpx.HTTPTransport(verify=_tls_context(), trust_env=False),
                    verify=True,
                    follow_redirects=False,
                    trust_env=False,
                )
            return self._http_client

    def synthesize(
        self,
        text: str,
        *,
        voice: str = DEFAULT_VOICE.id,
        format: str = "mp3",
        sample_rate: int = 22050,
        volume: float = 50,
        rate: float = 1.0,
        pitch: float = 1.0,
    ) -> bytes:
        """Audio bytes for ``text`` (at most 2000 billed characters), in the API's units.

        ``format="pcm"`` gives raw signed 16-bit little-endian mono samples.
        """
        req = build_request(
            text,
            voice=voice,
            format=format,
            sample_rate=sample_rate,
            volume=volume,
            rate=rate,
            pitch=pitch,
        )
        return self.send(req).data

    def send(
        self,
        req: Request,
        *,
        cancel: threading.Event | None = None,
        on_failure: Callable[[KuhuError], bool] | None = None,
    ) -> Audio:
        """Send a checked request, retrying what may succeed on a second try.

        ``on_failure(exc)`` hears of each failed attempt and may stop the retries by
        answering False (the fallback's circuit breaker does)."""
        # Build the HTTP client before taking a rate-limit slot: building it takes tens
        # of milliseconds, which would make this request arrive late and bunch up with
        # the next one at the server.
        self._http()
        ends = time.monotonic() + self.deadline
        for attempt in range(1, self.max_attempts + 1):
            if cancel is not None and cancel.is_set():
                raise CancelledError("stopped before the request was sent")
            if not self._limiter.acquire(cancel):
                raise CancelledError("stopped while waiting for the rate limit")
            try:
                left = ends - time.monotonic()
                if left <= 0:
                    raise TransportError(
                        f"no answer within the {self.deadline:g} s deadline (KUHU_DEADLINE)"
                    )
                audio = self._attempt(req, min(self.timeout, left), cancel)
            except KuhuError as exc:
                more = on_failure(exc) if on_failure is not None else True
                if not exc.retryable or attempt == self.max_attempts or not more:
                    raise
                cap = min(self.backoff_cap, self.backoff_base * 2**attempt)
                delay = random.uniform(0, cap)  # noqa: S311 - jitter, not a secret
                if 429 in (exc.status, exc.code):
                    # Too many requests: never again at once. The server's Retry-After
                    # (bounded), else at least half the backoff.
                    asked = getattr(exc, "retry_after", None)
                    delay = (
                        min(asked, RETRY_AFTER_CAP)
                        if asked is not None
                        else random.uniform(cap / 2, cap)  # noqa: S311
                    )
                if time.monotonic() + delay >= ends:
                    raise  # no time left for another attempt
                if 429 in (exc.status, exc.code):
                    # Every request of the process waits too: they share the key.
                    self._limiter.pause(delay)
                logger.info(
                    "attempt %d of %d failed (%s); retrying in %.2f s",
                    attempt,
                    self.max_attempts,
                    type(exc).__name__,
                    delay,
                )
                if cancel is not None:
                    if cancel.wait(delay):
                        raise CancelledError("stopped while waiting to retry") from exc
                else:
                    time.sleep(delay)
                continue
            with self._lock:
                self.billed_chars_sent += req.billed
            return audio
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises

    def _redact(self, message: str) -> str:
        """``message`` without the key or secret, in any encoding a server may echo."""
        for secret in (self._key, self._secret):
            if secret:
                for form in _encodings(secret):
                    message = re.sub(re.escape(form), "***", message, flags=re.IGNORECASE)
        return message

    def _attempt(self, req: Request, limit: float, cancel: threading.Event | None) -> Audio:
        """One POST, its whole answer read within ``limit`` seconds."""
        import httpx

        if self._closed:
            raise CancelledError("the client was closed")
        body = urlencode([("key", self._key), *req.form()])
        headers = {"Content-Type": _CONTENT_TYPE}
        if self._secret:
            headers["sign"] = hashlib.md5((body + self._secret).encode("utf-8")).hexdigest()  # noqa: S324 - the API's scheme
        with self._lock:
            self.attempts_made += 1
        logger.debug("POST %s: %d billed characters, %s", self.url, req.billed, req.format)
        cap = min(self.max_response_bytes, req.answer_cap())
        guard = _Guard(cancel)
        timer = threading.Timer(limit, guard.fire, args=(f"{limit:g} s passed",))
        timer.daemon = True
        with self._lock:
            self._inflight.add(guard)
        got_headers = False
        try:
            timer.start()
            with self._http().stream(
                "POST",
                self.url.url,
                content=body.encode("ascii"),
                headers=headers,
                timeout=httpx.Timeout(connect=min(5.0, limit), read=limit, write=limit, pool=limit),
            ) as resp:
                got_headers = True
                guard.attach(resp)
                length = resp.headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > cap:
                    raise BadResponseError(
                        f"the answer announces {int(length)} bytes, more than {cap} "
                        f"that {req.billed} billed characters can make: not audio we will play"
                    )
                chunks: list[bytes] = []
                size = 0
                cut = False
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise BadResponseError(
                            f"the answer goes on past {cap} bytes, more than "
                            f"{req.billed} billed characters can make: not audio we will play"
                        )
                    if guard.reason is not None:
                        cut = True  # the deadline or a stop came while bytes still flowed
                        break
                    chunks.append(chunk)
                status = resp.status_code
                content_type = resp.headers.get("content-type", "")
                retry_after = _seconds(resp.headers.get("retry-after"))
        except httpx.TimeoutException as exc:
            self._raise_if_guarded(guard, limit, exc)
            raise TransportError(
                f"the API did not answer within {limit:g} s ({type(exc).__name__}); the "
                "network or the service is slow (KUHU_TIMEOUT)"
            ) from exc
        except httpx.ConnectError as exc:
            self._raise_if_guarded(guard, limit, exc)
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in type(exc.__context__).__name__:
                raise TLSError(
                    f"the TLS certificate of {self.url.host} could not be verified, so "
                    "nothing was sent: this computer's clock may be wrong, a proxy or "
                    "antivirus may intercept HTTPS, or the endpoint is not who it claims "
                    "to be (certificate checks cannot be turned off)"
                ) from exc
            why = str(exc)
            if re.search(_DNS_FAILURE, why, re.IGNORECASE):
                raise TransportError(
                    f"could not look up {self.url.host} (DNS): check the network connection, "
                    "or the host name in KUHU_API_URL"
                ) from exc
            if "refused" in why.lower():
                raise TransportError(
                    f"{self.url.host} refused the connection: nothing listens at "
                    f"{self.url} (check KUHU_API_URL)"
                ) from exc
            raise TransportError(
                f"could not connect to {self.url.host}: check the network or KUHU_API_URL"
            ) from exc
        except httpx.RemoteProtocolError as exc:
            self._raise_if_guarded(guard, limit, exc)
            if got_headers:
                raise TruncatedResponseError(
                    "the connection closed before the whole answer arrived"
                ) from exc
            raise TransportError("the connection closed before an answer arrived") from exc
        except httpx.TransportError as exc:
            self._raise_if_guarded(guard, limit, exc)
            raise TransportError(
                f"the connection failed ({type(exc).__name__}): it was reset or dropped"
            ) from exc
        finally:
            timer.cancel()
            with self._lock:
                self._inflight.discard(guard)
        if cut:
            self._raise_if_guarded(guard, limit, None)
        data = b"".join(chunks)
        try:
            return self._audio_from(req, status, content_type, data)
        except KuhuError as exc:
            if 429 in (exc.status, exc.code):
                exc.retry_after = retry_after  # type: ignore[attr-defined]
            raise

    @staticmethod
    def _raise_if_guarded(guard: _Guard, limit: float, exc: Exception | None) -> None:
        """The error for an answer that its guard ended (deadline or stop), if it did."""
        if guard.reason is None:
            return
        if guard.reason == "stopped" or guard.reason.startswith("the client"):
            raise CancelledError(f"{guard.reason} while the answer was arriving") from exc
        raise TransportError(
            f"the answer did not arrive whole in the {limit:.3g} s this attempt had "
            "(KUHU_TIMEOUT per attempt, KUHU_DEADLINE in all): the server is too slow or "
            "stalled"
        ) from exc

    def _audio_from(self, req: Request, status: int, content_type: str, data: bytes) -> Audio:
        error = _json_error(data) if data[:64].lstrip()[:1] == b"{" else None
        if status == 200 and error is None:
            try:
                check_audio(data, req.format)
                if req.format != "pcm":
                    return Audio(data=data, format=req.format, sample_rate=req.sample_rate)
                pcm, kind = pcm_from_answer(data, req.sample_rate, content_type)
            except KuhuError as exc:
                exc.status = status
                raise
            seconds = len(pcm) / 2 / req.sample_rate
            self.last_answer = Answer(status, content_type, kind, len(data), seconds)
            return Audio(data=pcm, format="pcm", sample_rate=req.sample_rate)
        code, msg = error if error is not None else (None, "")
        raise self._error_for(status, code, msg, content_type, req)

    def _error_for(
        self, status: int, code: int | None, msg: str, content_type: str, req: Request
    ) -> KuhuError:
        effective = code if code is not None else status
        detail = self._redact(msg)[:200]
        said = f" (the API said: {detail})" if detail else ""
        if effective == 403:
            why = (
                "the key or the signing secret (KUHU_API_SECRET) is wrong, or the key lacks "
                "permission for this API"
                if self._secret
                else "the key is wrong or lacks permission for this API, or signing is on in "
                "the console and KUHU_API_SECRET is not set"
            )
            return AuthError(f"403: {why}" + said, status=status, code=code)
        if effective == 400:
            from .voices import find_voice

            hint = (
                f"; the voice {req.voice} is not a system voice: check that it exists in "
                "your account (voice cloning)"
                if find_voice(req.voice) is None
                else ""
            )
            return BadRequestError(
                "400: the API refused the request" + said + hint, status=status, code=code
            )
        if effective == 429:
            return ServerError(
                "429: too many requests for this key (the API takes 20 a second; another "
                "program may be using the same key)" + said,
                status=status,
                code=code,
            )
        if effective >= 500:
            return ServerError(
                f"{effective}: the API failed on its side; try again later" + said,
                status=status,
                code=code,
            )
        if status == 200:
            return BadResponseError(
                f"the answer was a JSON error with code {code}, not audio" + said,
                status=status,
                code=code,
            )
        kind = content_type.split(";")[0] or "no content type"
        return BadResponseError(
            f"unexpected HTTP {status} ({kind}) from the API" + said, status=status, code=code
        )


def _encodings(secret: str) -> list[str]:
    """The forms in which ``secret`` can come back in a server's message: as is,
    percent-encoded (form or path style; compared ignoring case), and JSON-escaped."""
    forms = {secret, quote_plus(secret), quote(secret, safe="")}
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    # Longest first, so that no shorter form leaves part of a longer one behind.
    return sorted((f for f in forms if f), key=len, reverse=True)


def _seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (its date form is not worth trusting a clock for)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _json_error(data: bytes) -> tuple[int | None, str] | None:
    """``(code, msg)`` of a JSON error body, or ``None`` if the body is not JSON."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return (None, "")
    raw = obj.get("code")
    code: int | None
    try:
        code = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        code = None
    msg = obj.get("msg") or obj.get("message") or ""
    return code, str(msg)
