"""When the cloud cannot answer: which failures the local voice covers, and a circuit
breaker so that, while the cloud is known to be down, utterances go straight to the
local voice instead of each waiting out the retries.

The policy, so that a voice never changes because a server hiccuped:

- A server that answers, even with an error (5xx, 429, a cut or late answer), is up:
  each request spends its own attempts, and only a request whose attempts are all spent
  is spoken by the local voice. Concurrent requests never spend each other's retries.
- A server that is plainly down (connection refused, name not found, no connection in
  time, a refused key, no key) opens the breaker at once: later utterances go straight
  to the local voice, and one request probes the cloud after 2, 4, 8, then every 16 s.
- A piece that playback waits for gets as long as the server has lately taken to answer
  (at least ``FIRST_PIECE_WAIT``); when the server has said nothing at all for that
  long, the local voice speaks and the breaker opens. The request goes on: its answer is
  kept (not bought again) and closes the breaker, so a slow but healthy server has the
  cloud voice back for the next utterance, with a wait that fits it.
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from collections.abc import Callable

from ..errors import AuthError, ConfigError, KuhuError, ServerError, TLSError, TransportError

#: Shortest wait for a piece, once playback needs it, before the local voice speaks it
#: (a server that hangs: the request's own timeout is much longer).
FIRST_PIECE_WAIT = 1.5
#: How much longer than the slowest recent answer a piece is waited for.
PATIENCE_FACTOR = 1.5


def falls_back(exc: BaseException) -> bool:
    """Whether the local voice should speak when the cloud failed with ``exc``: it could
    not be reached or timed out, failed on its side (5xx, 429), refused the key (403),
    or there is no key. Not for a bad certificate (someone may be in the middle), a
    refused text (400) or an answer that is not audio."""
    if isinstance(exc, TLSError):
        return False
    return isinstance(exc, (TransportError, ServerError, AuthError, ConfigError))


def plainly_down(exc: BaseException) -> bool:
    """Whether ``exc`` says the cloud cannot be used at all right now (no retry of any
    request can help): unreachable, a refused key, or no key."""
    if isinstance(exc, TransportError):
        return exc.unreachable
    return isinstance(exc, (AuthError, ConfigError))


class CloudBreaker:
    """Opens when the cloud is plainly down (see the module docstring) or has said
    nothing for as long as a piece may wait (``trip``). While open, ``admit`` hands back
    the failure to raise at once; one request is let through as a probe after 2 s, then
    4, 8 and at most 16 s while the cloud stays down. Any answer closes it."""

    FIRST = 2.0
    LONGEST = 16.0
    #: How many recent answer times the wait for a piece is fitted to.
    RECENT = 5

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cause: KuhuError | None = None
        self._interval = 0.0
        self._next_try = 0.0
        self._probing = False
        self._recent: collections.deque[float] = collections.deque(maxlen=self.RECENT)
        self._heard = float("-inf")

    @property
    def is_open(self) -> bool:
        return self._cause is not None

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
            if plainly_down(exc):
                if probe:
                    self._open(exc, min(self.LONGEST, self._interval * 2))
                elif self._cause is None:
                    self._open(exc, self.FIRST)
                return False
            # The server answered, if with an error: it is up, and this request keeps
            # its own attempts.
            self._heard = time.monotonic()
            self._close()
            return True

    def trip(self, exc: KuhuError) -> None:
        """Open now: a piece waited ``patience()`` and the cloud said nothing."""
        with self._lock:
            if self._cause is None:
                self._open(exc, self.FIRST)

    def _open(self, cause: KuhuError, interval: float) -> None:
        self._cause = cause
        self._interval = max(interval, self.FIRST)
        self._next_try = self._clock() + self._interval
        self._probing = False

    def _close(self) -> None:
        self._cause = None
        self._probing = False

    def succeeded(self, seconds: float | None = None) -> None:
        """An answer arrived, after ``seconds`` (its attempt's time): the cloud is up."""
        with self._lock:
            self._close()
            self._heard = time.monotonic()
            if seconds is not None:
                self._recent.append(seconds)

    def patience(self, longest: float) -> float:
        """How long a piece that playback waits for may go unanswered: fitted to how long
        the server has lately taken, at least ``FIRST_PIECE_WAIT``; beyond that, at most
        ``longest`` (the request's own timeout, which ends it anyway)."""
        with self._lock:
            slowest = max(self._recent, default=0.0)
        return max(FIRST_PIECE_WAIT, min(PATIENCE_FACTOR * slowest, longest))

    def silent_for(self, since: float) -> float:
        """Seconds since ``since`` or the cloud's last answer, whichever is later (real
        time, ``time.monotonic``: the injected clock paces only the probes)."""
        with self._lock:
            return time.monotonic() - max(since, self._heard)

    def abandoned(self, *, probe: bool) -> None:
        """A probe that ended without an answer (stopped): let another one through."""
        if probe:
            with self._lock:
                self._probing = False
