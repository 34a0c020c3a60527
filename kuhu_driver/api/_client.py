"""The API client: sign, send, retry within a deadline, under the shared rate limit."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._cancel import CancelToken
from .._closing import Closing
from .._config import Settings, resolve_settings
from .._model import Audio, Request
from ..errors import (
    BadRequestError,
    KuhuError,
    RateLimitedError,
    StoppedError,
    TransportError,
)
from ._ahead import Ahead
from ._answer import Answer, RawAnswer, Redactor, judge, refusal
from ._exit import held_at_exit, track
from ._ratelimit import RateLimiter, shared_limiter
from ._request import build_request, check_url, signed_form
from ._transport import Cut, Guard, post, tls_context
from ._voices import DEFAULT_VOICE

if TYPE_CHECKING:
    import ssl

    import httpx

logger = logging.getLogger(__name__)

#: The longest wait a server's Retry-After may ask of us between two attempts.
RETRY_AFTER_CAP = 10.0
#: Seconds a probe of the service (``KuhuClient.probe``) may take.
PROBE_TIMEOUT = 1.5
#: No answer is read past this, whatever the text (see ``Request.answer_cap``).
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
#: How long an idle connection is trusted (many servers close idle keep-alive
#: connections after 5 s or more): after this, the next request takes a new one.
KEEP_ALIVE = 4.0


class KuhuClient(Closing):
    """A client of the synthesis API. One ``httpx.Client`` each; close it, or use ``with``.

    Settings not given come from ``KUHU_API_KEY``, ``KUHU_API_SECRET`` and
    ``KUHU_API_URL`` (through one path: a :class:`Settings`). TLS certificates are always
    verified; nothing turns that off.

    ``timeout`` bounds one attempt, from connecting to the answer's last byte
    (``KUHU_TIMEOUT``); ``deadline`` bounds one request, all attempts and the waits
    between them included (``KUHU_DEADLINE``).

    ``transport`` is for tests only, and must be an ``httpx.MockTransport``: a transport
    that reaches the network could skip certificate checks, so no other is accepted.
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
            settings = resolve_settings(
                api_key=api_key,
                api_secret=api_secret,
                api_url=api_url,
                timeout=timeout,
                deadline=deadline,
            )
        self.timeout = settings.timeout if timeout is None else timeout
        self.deadline = settings.deadline if deadline is None else deadline
        for name, value in (("timeout", self.timeout), ("deadline", self.deadline)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number of seconds")
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if transport is not None and not _is_mock(transport):
            raise TypeError(
                "transport must be an httpx.MockTransport (for tests): connections to the "
                "network are made by the client itself, certificates always verified"
            )
        self._transport = transport
        self._key = settings.api_key
        self._secret = settings.api_secret
        self._redact = Redactor(self._key, self._secret)
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
        self._build_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._tls_lock = threading.Lock()
        self.keep_alive = KEEP_ALIVE
        self._ahead = Ahead(KEEP_ALIVE)  # a connection opened before the request that uses it
        self._inflight: set[Guard] = set()
        self._sending = 0  # requests between sending and the answer
        #: The last answer that gave audio, as the server sent it.
        self.last_answer: Answer | None = None
        #: Billed characters of requests that returned audio.
        self.billed_chars_sent = 0
        #: HTTP attempts made, successful or not; and probes (``probe``).
        self.attempts_made = 0
        self.probes_made = 0
        self._used = float("-inf")  # when the connection last carried anything
        self._asked = time.monotonic()  # when a request was last made (or the client made)
        track(self)  # closed at exit, so that no thread of ours is left inside OpenSSL

    @property
    def has_key(self) -> bool:
        """Whether an API key is configured (without one, speech uses the local voice)."""
        return bool(self._key)

    def __repr__(self) -> str:
        return f"KuhuClient(api_url={str(self.url)!r}, signed={self._secret is not None})"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return  # once is enough (and at finalization nothing more may be imported)
            self._closed = True
            http, self._http_client = self._http_client, None
            guards = list(self._inflight)
        for guard in guards:
            guard.fire(Cut.CLOSED)
        self._ahead.close()
        if http is not None:
            http.close()

    def open_ahead(self, margin: float = 0.0) -> bool:
        """Open a new connection now (TCP and TLS, on threads of their own), for the
        next request that needs one: no HTTP is sent, so nothing can be billed. False if
        none was started (one is being opened, or fresh for more than ``margin`` s; the
        client is closed, or has a mock transport)."""
        if self._transport is not None or self._closed:
            return False
        parts = urlsplit(self.url.bare)
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        host = parts.hostname or ""
        return self._ahead.open(
            host, port, self._context if tls else None, min(5.0, self.timeout), margin=margin
        )

    def warm(self, margin: float = 0.0) -> None:
        """Ahead of a request: build the HTTP client (importing httpx, loading the CA
        roots) and open a connection (:meth:`open_ahead`). Nothing is sent. A failure is
        left for the request to report (this is only a head start)."""
        self.open_ahead(margin)
        try:
            self._http()
        except Exception as exc:  # a head start only: the request reports failures
            logger.debug("building the HTTP client ahead failed (%s)", type(exc).__name__)

    def probe(self, timeout: float = PROBE_TIMEOUT) -> KuhuError | None:
        """Whether the service works, at no cost: one POST with the key and no text,
        which a working server refuses as a bad parameter (400), billing nothing. None if
        it did; else the failure (a refused key, a 5xx, a reset, no answer within
        ``timeout`` seconds). One attempt, within the shared rate limit."""
        with self._lock:
            self.probes_made += 1
        try:
            self._http()  # built before the slot is taken, as for a request
            if not self._limiter.acquire(None):
                raise StoppedError("the client was closed")
            raw = self._exchange(
                [("text", "")], limit=timeout, cap=64 * 1024, billed=0, cancel=None
            )
        except KuhuError as exc:
            return exc
        failure = refusal(raw, None, self._redact, signed=bool(self._secret))
        return None if isinstance(failure, BadRequestError) else failure

    def idle_for(self, margin: float = 0.0) -> float:
        """Seconds since the connection last carried anything (infinite: never; 0 while a
        request is being sent, or a connection is being opened or stays fresh for more
        than ``margin`` s: another opened ahead then would be a second one)."""
        if self._ahead.busy(margin):
            return 0.0
        with self._lock:
            if self._sending:
                return 0.0
        return time.monotonic() - self._used

    def unused_for(self) -> float:
        """Seconds since the last request (or since this client was made)."""
        return time.monotonic() - self._asked

    def _http(self) -> httpx.Client:
        # Built under a lock of its own (importing httpx and loading the CA roots take
        # 100 ms or more), so that close() never waits for it.
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

        t = self.timeout
        transport = self._transport
        if transport is None:
            from ._wire import Wire

            transport = Wire(self._context(), self._ahead, self.keep_alive)
        return httpx.Client(
            timeout=httpx.Timeout(connect=min(5.0, t), read=t, write=t, pool=t),
            transport=transport,
            verify=True,
            follow_redirects=False,
            trust_env=False,
        )

    def synthesize(
        self,
        text: str,
        *,
        voice: str = DEFAULT_VOICE.id,
        format: str = "pcm",
        sample_rate: int = 22050,
        volume: float = 50,
        rate: float = 1.0,
        pitch: float = 1.0,
    ) -> bytes:
        """Audio bytes for ``text`` (at most 2000 billed characters), in the API's units.

        ``format="pcm"`` (the default, as everywhere) gives raw signed 16-bit
        little-endian mono samples.
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
        cancel: CancelToken | None = None,
        on_failure: Callable[[KuhuError], bool] | None = None,
        on_slot: Callable[[], None] | None = None,
    ) -> Audio:
        """Send a checked request, retrying what may succeed on a second try.

        ``on_failure(exc)`` hears of each failed attempt and may stop the retries by
        answering False (the fallback's circuit breaker does). ``on_slot()`` is called
        once the first attempt has its rate-limit slot (a job lets its other pieces
        queue only then, so that its first piece is asked first)."""
        with self._lock:
            self._sending += 1
        try:
            return self._send(req, cancel, on_failure, on_slot)
        finally:
            with self._lock:
                self._sending -= 1

    def _send(
        self,
        req: Request,
        cancel: CancelToken | None,
        on_failure: Callable[[KuhuError], bool] | None,
        on_slot: Callable[[], None] | None,
    ) -> Audio:
        # Build the HTTP client before taking a rate-limit slot: building it takes tens
        # of milliseconds, which would make this request arrive late and bunch up with
        # the next one at the server.
        self._http()
        ends = time.monotonic() + self.deadline
        for attempt in range(1, self.max_attempts + 1):
            if cancel is not None and cancel.is_set():
                raise StoppedError("stopped before the request was sent")
            if not self._limiter.acquire(cancel):
                raise StoppedError("stopped while waiting for the rate limit")
            if on_slot is not None and attempt == 1:
                on_slot()
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
                delay = self._backoff(attempt, exc)
                if time.monotonic() + delay >= ends:
                    raise  # no time left for another attempt
                self._wait_to_retry(attempt, exc, delay, cancel)
                continue
            with self._lock:
                self.billed_chars_sent += req.billed
            return audio
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises

    def _backoff(self, attempt: int, exc: KuhuError) -> float:
        import random  # on the first retry: not at pyttsx3.init

        cap = min(self.backoff_cap, self.backoff_base * 2**attempt)
        if isinstance(exc, RateLimitedError):
            # Too many requests: never again at once. The server's Retry-After
            # (bounded), else at least half the backoff.
            if exc.retry_after is not None:
                return min(exc.retry_after, RETRY_AFTER_CAP)
            return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not a secret
        return random.uniform(0, cap)  # noqa: S311

    def _wait_to_retry(
        self, attempt: int, exc: KuhuError, delay: float, cancel: CancelToken | None
    ) -> None:
        if isinstance(exc, RateLimitedError):
            # Every request of the process waits too: they share the key.
            self._limiter.pause(delay)
        logger.info(
            "attempt %d of %d failed (%s); retrying in %.2f s",
            attempt,
            self.max_attempts,
            type(exc).__name__,
            delay,
        )
        if cancel is None:
            time.sleep(delay)
        elif cancel.wait(delay):
            raise StoppedError("stopped while waiting to retry") from exc

    def _attempt(self, req: Request, limit: float, cancel: CancelToken | None) -> Audio:
        """One POST, its whole answer read within ``limit`` seconds."""
        with self._lock:
            self.attempts_made += 1
        logger.debug("POST %s: %d billed characters, %s", self.url, req.billed, req.format)
        try:
            raw = self._exchange(
                req.form(),
                limit=limit,
                cap=min(self.max_response_bytes, req.answer_cap()),
                billed=req.billed,
                cancel=cancel,
            )
        finally:
            self._used = self._asked = time.monotonic()
        audio, answer = judge(raw, req, self._redact, signed=bool(self._secret))
        if answer is not None:
            self.last_answer = answer
        return audio

    def _exchange(
        self,
        form: list[tuple[str, str]],
        *,
        limit: float,
        cap: int,
        billed: int,
        cancel: CancelToken | None,
    ) -> RawAnswer:
        """POST ``form`` (the key and signature added) and read the whole answer within
        ``limit`` seconds; ``close()``, ``cancel`` and the deadline cut it short."""
        if self._closed:
            raise StoppedError("the client was closed")
        body, headers = signed_form(self._key, self._secret, form)
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
                return post(
                    self._http(),
                    self.url,
                    body,
                    headers,
                    limit=limit,
                    cap=cap,
                    billed=billed,
                    guard=guard,
                )
        finally:
            timer.cancel()
            if forget is not None:
                forget()
            with self._lock:
                self._inflight.discard(guard)


def _is_mock(transport: object) -> bool:
    import httpx

    return isinstance(transport, httpx.MockTransport)
