"""Engines at the interpreter's exit (kuhu_driver/driver/_atexit.py): shut down at
``atexit`` while every thread still runs; ``destroy`` during finalization touches no
lock (a daemon thread frozen by finalization may hold one for ever)."""

from __future__ import annotations

import sys
import threading
import time

import pytest
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver.driver import _atexit
from kuhu_driver.testing import KuhuEmulator


@pytest.mark.usefixtures("kuhu_emulator", "capture")
def test_at_exit_every_engine_is_shut_down_and_its_threads_end() -> None:
    engine = Engine("kuhu")
    driver = engine.proxy._driver
    engine.say("你好。")
    engine.runAndWait()
    worker = driver._worker
    assert worker is not None and worker.is_alive()
    _atexit.shut_all_down()
    assert driver._worker is None
    worker.join(2)
    assert not worker.is_alive()
    driver.destroy()


def test_destroy_while_finalizing_touches_no_lock(
    kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine("kuhu")
    driver = engine.proxy._driver
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:  # as a thread frozen by finalization would: until released
        with driver._lock, driver._synth._lock:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(5)
    monkeypatch.setattr(sys, "is_finalizing", lambda: True)
    t0 = time.monotonic()
    driver.destroy()
    assert time.monotonic() - t0 < 0.5
    monkeypatch.undo()
    release.set()
    holder.join(5)
    driver.destroy()
