"""When the cloud cannot answer: which failures the local voice covers, and a circuit
breaker so that, while the cloud is known to be down, utterances go straight to the
local voice instead of each waiting out the retries.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable

from ..errors import AuthError, ConfigError, KuhuError, ServerError, TLSError, TransportError

#: Longest wait for a piece, once playback needs it, before the local voice speaks it
#: (a server that hangs: the request's own timeout is much longer).
FIRST_PIECE_WAIT = 1.5


def falls_back(exc: BaseException) -> bool:
    """Whether the local voice should speak when the cloud failed with ``exc``: it could
    not be reached or timed out, failed on its side (5xx, 429), refused the key (403),
    or there is no key. Not for a bad certificate (someone may be in the middle), a
    refused text (400) or an answer that is not audio."""
    if isinstance(exc, TLSError):
        return False
    return isinstance(exc, (TransportError, ServerError, AuthError, ConfigError))


class CloudBreaker:
    """Opens once the cloud has failed three attempts in a row (across all requests, so
    that concurrent requests share one retry budget), or at once for a failure that a
    retry cannot mend (403, no key, no answer in time). While open, ``admit`` hands back
    the failure to raise at once; one request is let through as a probe after 2 s, then
    4, 8 and at most 16 s while the cloud keeps failing. A success closes it."""

    FIRST = 2.0
    LONGEST = 16.0
    THRESHOLD = 3

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cause: KuhuError | None = None
        self._failures = 0
        self._interval = 0.0
        self._next_try = 0.0
        self._probing = False

    def admit(self) -> tuple[bool, KuhuError | None]:
        """(probe, None) to send the request (probe: it tests an open breaker), or
        (False, cause) to fail at once."""
        with self._lock:
            if self._cause is None:
                return False, None
            if not self._probing and self._clock() >= self._next_try:
                self._probing = True
                return True, None
            return False, copy.copy(self._cause)

    def attempt_failed(self, exc: KuhuError, *, probe: bool) -> bool:
        """Count a failed attempt; False when no further attempt should be made."""
        if not falls_back(exc):
            return True
        with self._lock:
            if probe:
                self._open(exc, min(self.LONGEST, self._interval * 2))
                return False
            if self._cause is not None:
                return False  # opened meanwhile: stop retrying
            self._failures += 1
            if self._failures >= self.THRESHOLD or not exc.retryable:
                self._open(exc, self.FIRST)
                return False
            return True

    def trip(self, exc: KuhuError) -> None:
        """Open now (no answer in time)."""
        with self._lock:
            if self._cause is None:
                self._open(exc, self.FIRST)

    def _open(self, cause: KuhuError, interval: float) -> None:
        self._cause = cause
        self._interval = interval
        self._next_try = self._clock() + interval
        self._probing = False

    def succeeded(self) -> None:
        with self._lock:
            self._cause = None
            self._failures = 0
            self._probing = False

    def abandoned(self, *, probe: bool) -> None:
        """A probe that ended without an answer (stopped): let another one through."""
        if probe:
            with self._lock:
                self._probing = False
