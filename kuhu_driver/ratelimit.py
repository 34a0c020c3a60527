"""One process-wide limit on how many requests begin per second."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter", "shared_limiter"]


class RateLimiter:
    """Requests begin at most ``per_second`` times a second, evenly spaced.

    The API allows 20 per second. Starts 1/18.5 s apart put at most 19 in any one-second
    window, and the server would see 21 only if travel times differed by more than two
    spacings (about 108 ms). Bursts would be faster for a moment, but one late request
    from a burst is enough to break the limit; even spacing keeps 92.5% of the allowed
    rate with a margin that holds under load. Slots are handed out first come, first
    served.
    """

    def __init__(
        self, per_second: float = 18.5, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not per_second > 0:
            raise ValueError("per_second must be > 0")
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """No request begins for ``seconds``: the server said too many (429)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait for this request's slot; return False if ``cancel`` was set first."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - self._clock()
        if wait <= 0:
            return True
        if cancel is not None:
            return not cancel.wait(wait)
        time.sleep(wait)
        return True


_shared = RateLimiter()


def shared_limiter() -> RateLimiter:
    """The limiter every client in this process shares by default."""
    return _shared
