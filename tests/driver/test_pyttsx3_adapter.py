"""pyttsx3's internals that the driver reads (``kuhu_driver/_pyttsx3.py``).

pyttsx3 gives drivers ``notify`` and ``setBusy`` only. The adapter also reads the
running command's name, the queue and the connected callbacks. These tests fail loudly
when a pyttsx3 release renames one of them (the matrix runs them on pyttsx3 2.90 and on
the newest), instead of prefetch and error logging quietly stopping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver._pyttsx3 import INTERNALS, Pyttsx3Proxy
from kuhu_driver.testing import KuhuEmulator


@pytest.fixture
def silent_engine(kuhu_emulator: KuhuEmulator) -> Iterator[Engine]:
    """An engine that never plays (conftest's ``engine`` also captures the device)."""
    eng = Engine("kuhu")
    yield eng
    eng.proxy._driver.destroy()


def test_every_internal_the_adapter_reads_is_there(silent_engine: Engine) -> None:
    for name in INTERNALS["DriverProxy"]:
        assert hasattr(silent_engine.proxy, name), f"pyttsx3's DriverProxy has no {name} any more"
    for name in INTERNALS["Engine"]:
        assert hasattr(silent_engine, name), f"pyttsx3's Engine has no {name} any more"


def test_the_adapter_sees_the_name_the_queue_and_the_listeners(silent_engine: Engine) -> None:
    proxy = Pyttsx3Proxy(silent_engine.proxy)
    driver = silent_engine.proxy._driver
    silent_engine.say("第一句。", "first")
    silent_engine.say("第二句。", "second")
    silent_engine.setProperty("rate", 150)
    assert proxy.pending() == [  # pyttsx3 starts busy: all of it waits
        (driver.say, ("第一句。",)),
        (driver.say, ("第二句。",)),
        (driver.setProperty, ("rate", 150)),
    ]
    silent_engine.proxy.setBusy(False)  # as the loop does: the first command runs, busy again
    assert proxy.command_name() == "first"
    assert proxy.pending() == [
        (driver.say, ("第二句。",)),
        (driver.setProperty, ("rate", 150)),
    ]
    assert not proxy.has_listeners("error")
    silent_engine.connect("error", lambda **kw: None)
    assert proxy.has_listeners("error")
    silent_engine.stop()


class _Bare:
    """A proxy of a pyttsx3 that renamed everything private."""

    def __init__(self) -> None:
        self.notified: list[tuple[str, dict[str, Any]]] = []

    def notify(self, topic: str, **kw: Any) -> None:
        self.notified.append((topic, kw))

    def setBusy(self, busy: bool) -> None:
        pass


def test_a_renamed_internal_turns_its_feature_off_with_one_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kuhu_driver._pyttsx3._warned", set())
    proxy = Pyttsx3Proxy(_Bare())
    with caplog.at_level(logging.WARNING, logger="kuhu_driver._pyttsx3"):
        for _ in range(3):
            assert proxy.pending() == []
            assert proxy.command_name() is None
            assert proxy.has_listeners("error") is False
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3  # one for each internal, not one per call
    assert any("DriverProxy._queue" in m for m in warned)
    proxy.notify("started-utterance", name="x")  # the public calls still work
