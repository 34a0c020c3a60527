"""The fetch pool: results and errors reach whoever waits, nothing outlives its use."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from kuhu_driver._pool import DaemonPool


class Blob:
    """Stands for a piece's audio (bytes cannot be weakly referenced)."""


def test_results_and_errors_reach_the_waiter_on_daemon_threads() -> None:
    pool = DaemonPool(2, "t")
    ok = pool.submit(lambda: 42)
    bad = pool.submit(lambda: 1 // 0)
    assert ok.result(5) == 42
    with pytest.raises(ZeroDivisionError):
        bad.result(5)
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("t-"))
    pool.shutdown()


def test_an_idle_thread_keeps_no_result_alive() -> None:
    # A thread that kept its last result held up to a piece of audio per thread: a
    # 200,000-character save peaked 27 MB higher.
    pool = DaemonPool(1, "keep")
    fut = pool.submit(Blob)
    ref = weakref.ref(fut.result(5))
    del fut
    gc.collect()
    assert ref() is None
    pool.shutdown()


def test_shutdown_cancels_what_has_not_started() -> None:
    pool = DaemonPool(1, "cancel")
    gate = threading.Event()
    running = pool.submit(lambda: gate.wait(5))
    waiting = pool.submit(lambda: "never")
    pool.shutdown()
    gate.set()
    assert running.result(5) is True
    assert waiting.cancelled()
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)
