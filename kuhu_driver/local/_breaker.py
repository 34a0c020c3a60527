"""When the cloud cannot answer: which failures the local voice covers, and a circuit
breaker so that, while the cloud is known to be down, utterances go straight to the
local voice instead of each waiting out the retries.

The policy, so that a voice never changes because a server hiccuped, and an outage is
heard once, not once per utterance:

- Inside one request, a server that answers, even with an error (5xx, 429, a reset or
  late answer), keeps the request's own attempts going: a failure that a retry mends
  changes nothing. Concurrent requests never spend each other's retries.
- A request that has spent all its attempts on such failures is evidence enough: the
  breaker opens. So does a server that is plainly down (connection refused, name not
  found, no connection in time, a refused key, no key), at once.
- While it is open, utterances go straight to the local voice, and a probe (a request
  with no text: a working server refuses it, and nothing is billed) runs every
  ``PROBE_EVERY`` seconds in the background, never in an utterance's path. The first
  probe that a working server answers closes the breaker; so does any request's answer.
- A piece that playback waits for gets as long as the server has lately taken to answer
  (at least ``FIRST_PIECE_WAIT``, at most ``KUHU_CLOUD_WAIT``); when the server has said
  nothing for that long, the local voice speaks and the breaker opens. The request goes
  on: its answer is kept (not bought again) and closes the breaker, so a slow but
  healthy server has the cloud voice back for the next utterance.
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from collections.abc import Callable

from .._config import DEFAULT_CLOUD_WAIT
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
    """Opens when the cloud is plainly down, when a request has spent its attempts, or
    when it has said nothing for as long as a piece may wait (``trip``); see the module
    docstring. While open, ``admit`` hands back the failure to raise at once, and
    ``probe()`` (if given: ``None`` when a working server answered, else the failure)
    runs every ``PROBE_EVERY`` seconds on a thread of its own until one succeeds."""

    #: Seconds between background probes while open (each may take ``probe``'s own
    #: timeout): the cloud voice is back within a few seconds of the server.
    PROBE_EVERY = 1.0
    #: How many recent answer times the wait for a piece is fitted to.
    RECENT = 5

    def __init__(
        self,
        *,
        probe: Callable[[], KuhuError | None] | None = None,
        cloud_wait: float = DEFAULT_CLOUD_WAIT,
    ) -> None:
        self._probe = probe
        self.cloud_wait = cloud_wait
        self._lock = threading.Lock()
        self._cause: KuhuError | None = None
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()
        self._recent: collections.deque[float] = collections.deque(maxlen=self.RECENT)
        self._heard = float("-inf")
        self._closed_at = float("-inf")  # when it last closed
        #: Probes sent, and how many found the cloud working.
        self.probes = 0

    @property
    def is_open(self) -> bool:
        return self._cause is not None

    def admit(self) -> KuhuError | None:
        """None to send the request, or the failure to raise at once (open)."""
        with self._lock:
            return None if self._cause is None else copy.copy(self._cause)

    def attempt_failed(self, exc: KuhuError) -> bool:
        """Count a failed attempt; False when no further attempt should be made."""
        if not falls_back(exc):
            return True
        with self._lock:
            if plainly_down(exc):
                self._open(exc)
                return False
            # The server answered, if with an error: the request keeps its own attempts,
            # and a piece waiting for it keeps waiting (see ``silent_for``).
            self._heard = time.monotonic()
            return True

    def spent(self, exc: KuhuError, *, since: float) -> None:
        """A request made at ``since`` failed with ``exc`` after all its attempts: open,
        if the local voice covers such a failure, unless the cloud was found working
        after the request began (a request that hung through an outage is old news)."""
        if falls_back(exc):
            with self._lock:
                if since > self._closed_at:
                    self._open(exc)

    def trip(self, exc: KuhuError) -> None:
        """Open now: a piece waited ``patience()`` and the cloud said nothing."""
        with self._lock:
            self._open(exc)

    def _open(self, cause: KuhuError) -> None:
        """(Under the lock.) Open, or keep open with the newest cause; start probing."""
        self._cause = cause
        if self._probe is None or self._closed.is_set() or isinstance(cause, ConfigError):
            return  # no key: no probe can help
        if self._prober is None or not self._prober.is_alive():
            self._prober = threading.Thread(
                target=self._probing, args=(self._probe,), name="kuhu-probe", daemon=True
            )
            self._prober.start()

    def _probing(self, probe: Callable[[], KuhuError | None]) -> None:
        """Until the breaker closes: wait, probe, and close it if the cloud works."""
        while not self._closed.wait(self.PROBE_EVERY):
            with self._lock:
                if self._cause is None:
                    return
            self.probes += 1
            try:
                failure = probe()
            except Exception as exc:  # a probe must never end the probing
                failure = KuhuError(f"the probe failed: {type(exc).__name__}")
            with self._lock:
                if failure is None:
                    self._cause = None
                    self._heard = self._closed_at = time.monotonic()
                    return
                if self._cause is not None and falls_back(failure):
                    self._cause = failure

    def succeeded(self, seconds: float | None = None) -> None:
        """An answer arrived, after ``seconds`` (its attempt's time): the cloud is up."""
        with self._lock:
            if self._cause is not None:
                self._closed_at = time.monotonic()
            self._cause = None
            self._heard = time.monotonic()
            if seconds is not None:
                self._recent.append(seconds)

    def patience(self, longest: float) -> float:
        """How long a piece that playback waits for may go unanswered: fitted to how long
        the server has lately taken, at least ``FIRST_PIECE_WAIT``, at most
        ``cloud_wait`` (``KUHU_CLOUD_WAIT``) and ``longest`` (the request's own timeout)."""
        with self._lock:
            slowest = max(self._recent, default=0.0)
        fitted = max(FIRST_PIECE_WAIT, PATIENCE_FACTOR * slowest)
        return min(fitted, self.cloud_wait, longest)

    def silent_for(self, since: float) -> float:
        """Seconds since ``since`` or the cloud's last answer, whichever is later."""
        with self._lock:
            return time.monotonic() - max(since, self._heard)

    def close(self) -> None:
        """Stop probing (a probe under way ends with its own timeout)."""
        self._closed.set()
