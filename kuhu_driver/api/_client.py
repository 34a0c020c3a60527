"""The API client: what one request is. Its form is signed with the key
(``_request.signed_form``), tried under the retry policy (``_retry``) and the shared
rate limit (``_ratelimit``), one attempt at a time on the line (``_line``), and each
answer judged (``_answer``)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._cancel import CancelToken
from .._closing import Closing
from .._config import Settings, resolve_settings
from .._model import Audio, Request
from ..errors import BadRequestError, KuhuError, StoppedError
from ._answer import Answer, RawAnswer, Redactor, judge, refusal
from ._line import Line
from ._ratelimit import RateLimiter, shared_limiter
from ._request import build_request, check_url, signed_form
from ._retry import RetryPolicy
from ._voices import DEFAULT_VOICE

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

#: Seconds a probe of the service (``KuhuClient.probe``) may take.
PROBE_TIMEOUT = 1.5
#: No answer is read past this, whatever the text (see ``Request.answer_cap``).
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
#: How long an idle connection is trusted (many servers close idle keep-alive
#: connections after 5 s or more): after this, the next request takes a new one.
KEEP_ALIVE = 4.0


class KuhuClient(Closing):
    """A client of the synthesis API; close it, or use ``with``.

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
        timeout = settings.timeout if timeout is None else timeout
        deadline = settings.deadline if deadline is None else deadline
        for name, value in (("timeout", timeout), ("deadline", deadline)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number of seconds")
            if not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number of seconds")
        if transport is not None and not _is_mock(transport):
            raise TypeError(
                "transport must be an httpx.MockTransport (for tests): connections to the "
                "network are made by the client itself, certificates always verified"
            )
        #: How each request is tried (attempts, backoff, the deadline).
        self.retry = RetryPolicy(timeout, deadline, max_attempts, backoff_base, backoff_cap)
        self._key = settings.api_key
        self._secret = settings.api_secret
        self._redact = Redactor(self._key, self._secret)
        self.url = check_url(settings.api_url)
        self.max_response_bytes = max_response_bytes
        self._limiter = rate_limiter or shared_limiter(self._key, self.url.url)
        #: The connections, and one attempt on the wire.
        self.line = Line(
            self.url,
            keep_alive=KEEP_ALIVE,
            connect_timeout=min(5.0, timeout),
            transport=transport,
            proxy=settings.proxy,
        )
        self._lock = threading.Lock()
        #: The last answer that gave audio, as the server sent it.
        self.last_answer: Answer | None = None
        #: Billed characters of requests that returned audio.
        self.billed_chars_sent = 0
        #: HTTP attempts made, successful or not; and probes (``probe``).
        self.attempts_made = 0
        self.probes_made = 0
        self._asked = time.monotonic()  # when a request was last made (or the client made)

    @property
    def has_key(self) -> bool:
        """Whether an API key is configured (without one, speech uses the local voice)."""
        return bool(self._key)

    @property
    def timeout(self) -> float:
        return self.retry.timeout

    @property
    def deadline(self) -> float:
        return self.retry.deadline

    @property
    def keep_alive(self) -> float:
        """Seconds an idle connection is trusted (``KEEP_ALIVE``)."""
        return self.line.keep_alive

    def __repr__(self) -> str:
        return f"KuhuClient(api_url={str(self.url)!r}, signed={self._secret is not None})"

    def close(self) -> None:
        self.line.close()

    def open_ahead(self, margin: float = 0.0) -> bool:
        """Open a new connection now (TCP and TLS only: nothing is sent or billed), for
        the next request that needs one (see ``Line.open_ahead``)."""
        return self.line.open_ahead(margin)

    def warm(self, margin: float = 0.0) -> None:
        """Ahead of a request: build the HTTP client (importing httpx, loading the CA
        roots) and open a connection (:meth:`open_ahead`). Nothing is sent. A failure is
        left for the request to report (this is only a head start)."""
        self.open_ahead(margin)
        try:
            self.line.http()
        except Exception as exc:  # a head start only: the request reports failures
            logger.debug("building the HTTP client ahead failed (%s)", type(exc).__name__)

    def idle_for(self, margin: float = 0.0) -> float:
        """Seconds since a connection last carried anything (see ``Line.idle_for``)."""
        return self.line.idle_for(margin)

    def unused_for(self) -> float:
        """Seconds since the last request (or since this client was made)."""
        return time.monotonic() - self._asked

    def probe(self, timeout: float = PROBE_TIMEOUT) -> KuhuError | None:
        """Whether the service works, at no cost: one POST with the key and no text,
        which a working server refuses as a bad parameter (400), billing nothing. None if
        it did; else the failure (a refused key, a 5xx, a reset, no answer within
        ``timeout`` seconds). One attempt, within the shared rate limit."""
        with self._lock:
            self.probes_made += 1
        try:
            self.line.http()  # built before the slot is taken, as for a request
            if not self._limiter.acquire(None):
                raise StoppedError("the client was closed")
            raw = self._exchange([("text", "")], limit=timeout, cap=64 * 1024, billed=0)
        except KuhuError as exc:
            return exc
        failure = refusal(raw, None, self._redact, signed=bool(self._secret))
        return None if isinstance(failure, BadRequestError) else failure

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

        ``cancel`` stops it at once, even while its answer arrives. ``on_failure(exc)``
        hears of each failed attempt and may stop the retries by answering False (the
        fallback's circuit breaker does). ``on_slot()`` is called once the first attempt
        has its rate-limit slot (a job lets its other pieces queue only then, so that its
        first piece is asked first)."""
        self.line.sending(+1)
        try:
            # Build the HTTP client before taking a rate-limit slot: building it takes
            # tens of milliseconds, which would make this request arrive late and bunch
            # up with the next one at the server.
            self.line.http()
            audio = self.retry.run(
                lambda limit: self._attempt(req, limit, cancel),
                self._limiter,
                cancel,
                on_failure,
                on_slot,
            )
        finally:
            self.line.sending(-1)
        with self._lock:
            self.billed_chars_sent += req.billed
        return audio

    def _attempt(self, req: Request, limit: float, cancel: CancelToken | None) -> Audio:
        """One POST, its whole answer read within ``limit`` seconds, judged."""
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
            self._asked = time.monotonic()
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
        cancel: CancelToken | None = None,
    ) -> RawAnswer:
        """``form`` with the key (and signature) added, on the line."""
        body, headers = signed_form(self._key, self._secret, form)
        return self.line.exchange(body, headers, limit=limit, cap=cap, billed=billed, cancel=cancel)


def _is_mock(transport: object) -> bool:
    import httpx

    return isinstance(transport, httpx.MockTransport)
