from __future__ import annotations

import itertools
import threading
import time

import pytest

from kuhu_driver.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.starts: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_slots_are_evenly_spaced_and_never_more_than_19_in_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(time, "sleep", clock.sleep)  # the module calls time.sleep
    limiter = RateLimiter(clock=clock)
    for _ in range(100):
        limiter.acquire()
        clock.starts.append(clock.now)
    starts = clock.starts
    assert starts[0] == 100.0  # an idle limiter waits for nothing
    assert all(b - a == pytest.approx(1 / 18.5) for a, b in itertools.pairwise(starts))
    assert max(sum(1 for s in starts if t0 <= s < t0 + 1.0) for t0 in starts) == 19


def test_an_idle_limiter_does_not_wait() -> None:
    limiter = RateLimiter()
    t0 = time.monotonic()
    assert limiter.acquire()
    assert time.monotonic() - t0 < 0.01


def test_cancel_releases_a_waiter() -> None:
    limiter = RateLimiter(1)
    assert limiter.acquire()
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    t0 = time.monotonic()
    assert limiter.acquire(cancel) is False
    assert time.monotonic() - t0 < 0.5


def test_a_pause_holds_every_request_back() -> None:
    clock = [100.0]
    limiter = RateLimiter(10, clock=lambda: clock[0])
    assert limiter.acquire()  # slot at 100.0
    limiter.pause(2.0)
    with limiter._lock:
        nxt = limiter._next
    assert nxt == 102.0  # the next request begins no earlier than the pause's end
