"""The retry policy: which failures are tried again, how long to wait between attempts
(full jitter from ``backoff_base``, doubling up to ``backoff_cap``; a 429's Retry-After,
bounded), and the deadline every attempt and wait of one request fits in."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._cancel import CancelToken
from .._model import Audio
from ..errors import KuhuError, RateLimitedError, StoppedError, TransportError
from ._ratelimit import RateLimiter

logger = logging.getLogger(__name__)

#: The longest wait a server's Retry-After may ask of us between two attempts.
RETRY_AFTER_CAP = 10.0


@dataclass
class RetryPolicy:
    """How one request is tried: at most ``max_attempts`` attempts, each at most
    ``timeout`` seconds, all of them and the waits between within ``deadline``."""

    timeout: float
    deadline: float
    max_attempts: int = 3
    backoff_base: float = 0.25
    backoff_cap: float = 4.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def run(
        self,
        attempt: Callable[[float], Audio],
        limiter: RateLimiter,
        cancel: CancelToken | None,
        on_failure: Callable[[KuhuError], bool] | None,
        on_slot: Callable[[], None] | None,
    ) -> Audio:
        """``attempt(limit)`` until one succeeds, a failure is not worth another try, or
        time runs out; each attempt first takes its slot from ``limiter``.
        ``on_failure(exc)`` may stop the retries by answering False; ``on_slot()`` runs
        once the first attempt has its slot."""
        ends = time.monotonic() + self.deadline
        for n in range(1, self.max_attempts + 1):
            if cancel is not None and cancel.is_set():
                raise StoppedError("stopped before the request was sent")
            if not limiter.acquire(cancel):
                raise StoppedError("stopped while waiting for the rate limit")
            if on_slot is not None and n == 1:
                on_slot()
            try:
                left = ends - time.monotonic()
                if left <= 0:
                    raise TransportError(
                        f"no answer within the {self.deadline:g} s deadline (KUHU_DEADLINE)"
                    )
                return attempt(min(self.timeout, left))
            except KuhuError as exc:
                more = on_failure(exc) if on_failure is not None else True
                if not exc.retryable or n == self.max_attempts or not more:
                    raise
                delay = self.delay(n, exc)
                if time.monotonic() + delay >= ends:
                    raise  # no time left for another attempt
                self._wait(n, exc, delay, limiter, cancel)
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises

    def delay(self, attempt: int, exc: KuhuError) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        import random  # on the first retry: not at pyttsx3.init

        cap = min(self.backoff_cap, self.backoff_base * 2**attempt)
        if isinstance(exc, RateLimitedError):
            # Too many requests: never again at once. The server's Retry-After
            # (bounded), else at least half the backoff.
            if exc.retry_after is not None:
                return min(exc.retry_after, RETRY_AFTER_CAP)
            return random.uniform(cap / 2, cap)  # noqa: S311 - jitter, not a secret
        return random.uniform(0, cap)  # noqa: S311

    def _wait(
        self,
        attempt: int,
        exc: KuhuError,
        delay: float,
        limiter: RateLimiter,
        cancel: CancelToken | None,
    ) -> None:
        if isinstance(exc, RateLimitedError):
            # Every request of the process waits too: they share the key.
            limiter.pause(delay)
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
