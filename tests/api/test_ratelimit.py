from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kuhu_driver.api import MachineLimiter, RateLimiter, shared_limiter

pytestmark = [pytest.mark.timing, pytest.mark.alone]  # counts requests per second


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


# -- one limit per key on the machine, whatever the number of processes ----------------


def _batch_jobs(tmp_path: Path, jobs: int, lines: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for j in range(jobs):
        src = tmp_path / f"job{j}.txt"
        src.write_text("".join(f"第{j}号任务第{i}行\n" for i in range(lines)), encoding="utf-8")
        procs.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "kuhu_driver", "--batch", str(src)),
                    *("--out-dir", str(tmp_path / f"out{j}")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    return procs


def _finish(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()


def test_three_processes_sharing_a_key_keep_one_limit_and_share_it_fairly(
    remote_emulator: Any, tmp_path: Path
) -> None:
    # Before: each process kept its own 18.5/s; three batches sent 51 a second.
    _finish(_batch_jobs(tmp_path, 3, 60))
    stats = remote_emulator.stats()
    assert stats["requests"] == 180
    assert stats["rate_limit_breaches"] == 0
    assert stats["max_requests_in_window"] <= 20
    # Fair: slots are taken in turn. While all three jobs are running (from the last one's
    # first answer to the first one's last), each gets about a third of the requests.
    # (Counted in requests, not seconds: a process that starts late on a loaded machine
    # ends late without any slot being unfair.)
    answered = {
        j: sorted(t for text, _, t in stats["log"] if text.startswith(f"第{j}号")) for j in range(3)
    }
    # And they end together: within a tenth of the run of each other, beyond however
    # much later than the others a process began (a late start on a busy machine). A
    # process served first to the end would finish two thirds of the run before the last.
    starts = [a[0] for a in answered.values()]
    ends = [a[-1] for a in answered.values()]
    run = max(ends) - min(starts)
    late_start = max(starts) - min(starts)
    assert max(ends) - min(ends) <= late_start + 0.1 * run, (starts, ends)
    both = (max(a[0] for a in answered.values()), min(a[-1] for a in answered.values()))
    shares = {j: sum(both[0] <= t <= both[1] for t in a) for j, a in answered.items()}
    total = sum(shares.values())
    assert total >= 90, shares  # most of the run has all three going
    assert all(n >= 0.25 * total for n in shares.values()), shares  # 3/4 of a fair third


@pytest.mark.timing  # a bound of 6 s where a stuck lock costs 20
def test_a_process_killed_holding_the_limit_never_blocks_the_others(
    remote_emulator: Any, tmp_path: Path
) -> None:
    path = shared_limiter(remote_emulator.key, remote_emulator.url)
    assert isinstance(path, MachineLimiter)
    holder = subprocess.Popen(
        [sys.executable, "-c", KILLED_HOLDER, str(path.path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    holder.wait(10)
    holder.stdout.close()
    assert holder.returncode == -9  # SIGKILL: died with the lock held
    t0 = time.monotonic()
    _finish(_batch_jobs(tmp_path, 2, 10))
    took = time.monotonic() - t0
    # 20 requests at 18.5 a second and two process starts: about 2 s. Stuck behind the
    # dead holder, each request would wait out the lock (1 s): 20 s.
    assert took < 6, took
    stats = remote_emulator.stats()
    assert stats["requests"] == 20
    assert stats["max_requests_in_window"] <= 20


KILLED_HOLDER = r"""
import fcntl, os, signal, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
# Took many slots ahead, too: the next process must not wait for all of them.
os.write(fd, struct.pack("<d", time.monotonic() + 2.0))
print("holding", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_stale_slot_from_before_a_reboot_is_ignored(tmp_path: Path) -> None:
    limiter = MachineLimiter(tmp_path / "rate-x")
    limiter._open()
    os.write(limiter._fd or -1, struct.pack("<d", time.monotonic() + 1e6))
    t0 = time.monotonic()
    assert limiter.acquire()
    assert time.monotonic() - t0 < 0.1
    limiter.close()


def test_a_process_stopped_while_holding_the_lock_stalls_no_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process took the lock and was stopped (Ctrl-Z): we wait at most
    LOCK_WAIT, then go on with this process's own limit and one warning."""
    if sys.platform == "win32":
        pytest.skip("flock: POSIX (Windows locks are msvcrt's, not run here)")
    import fcntl

    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    limiter = MachineLimiter(folder / "rate-x")
    holder = os.open(folder / "rate-x", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another open file: as another process would
    try:
        t0 = time.monotonic()
        assert limiter.acquire() is True
        assert limiter.acquire() is True  # the second one does not wait again
        took = time.monotonic() - t0
    finally:
        os.close(holder)
        limiter.close()
    # The promise is a number: at most 1 s (a stopped process must not stall the others
    # for long), and not giving up at once. Written here, not read from LOCK_WAIT.
    assert 1.0 <= took < 1.5, took
    assert any("keeps its own" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("how", ["another owner", "writable by others"])
def test_a_state_folder_that_is_not_ours_is_never_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    if sys.platform == "win32":
        pytest.skip("owners and modes: POSIX (the check does nothing on Windows)")
    folder = tmp_path / "rt"
    folder.mkdir()
    if how == "another owner":
        os.chown(folder, 12345, 12345)  # the tests run as root (for the tmpfs mounts)
        folder.chmod(0o700)
    else:
        folder.chmod(0o777)
    limiter = MachineLimiter(folder / "rate-x")
    try:
        assert limiter.acquire() is True
    finally:
        limiter.close()
    assert not (folder / "rate-x").exists()
    assert any("another user or others may write it" in r.getMessage() for r in caplog.records)


def test_processes_reading_different_clocks_never_share_a_state_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Windows, simulated: CPython 3.10-3.12 read GetTickCount64 and 3.13
    QueryPerformanceCounter, whose readings differ by an offset; a process behind the
    other would wait that offset out per request. Each clock gets its own file."""
    import types

    from kuhu_driver.api import _ratelimit

    real = time.get_clock_info
    files = []
    for implementation in ("GetTickCount64()", "QueryPerformanceCounter()", "GetTickCount64()"):

        def info(name: Any, impl: str = implementation) -> types.SimpleNamespace:
            return types.SimpleNamespace(**{**vars(real(name)), "implementation": impl})

        monkeypatch.setattr(time, "get_clock_info", info)
        monkeypatch.setattr(_ratelimit, "_machine", {})
        limiter = _ratelimit.shared_limiter("the-key", "https://api.example/x")
        assert isinstance(limiter, _ratelimit.MachineLimiter)
        files.append(limiter.path)
    assert files[0] != files[1] and files[0] == files[2]
