"""One process-wide limit on how many requests begin per second."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimiter", "shared_limiter"]


class RateLimiter:
    """At most ``max_requests`` starts in any window of ``period`` seconds.

    The API allows 20 per second. We allow 19 per 1.05 s, so that the server never sees
    more than 20 in a second even if a request's travel is delayed by up to 50 ms.
    """

    def __init__(
        self,
        max_requests: int = 19,
        period: float = 1.05,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_requests < 1 or period <= 0:
            raise ValueError("max_requests must be >= 1 and period > 0")
        self.max_requests = max_requests
        self.period = period
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait for a slot; return False if ``cancel`` was set first."""
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self.period:
                    self._starts.popleft()
                if len(self._starts) < self.max_requests:
                    self._starts.append(now)
                    return True
                wait = self.period - (now - self._starts[0])
            if cancel is not None:
                if cancel.wait(wait):
                    return False
            else:
                time.sleep(wait)


_shared = RateLimiter()


def shared_limiter() -> RateLimiter:
    """The limiter every client in this process shares by default."""
    return _shared
