"""Testing your own app against the emulator, with the ``kuhu_emulator`` fixture.

Installing kuhu_driver registers the fixture with pytest. It starts the emulator and
points ``KUHU_*`` at it, so your code needs no change:

    pytest examples/test_my_app.py
"""

from __future__ import annotations

from pathlib import Path

import pyttsx3

from kuhu_driver.testing import KuhuEmulator


def announce(order_number: int, path: Path) -> None:
    """The app under test: saves an announcement to a file."""
    engine = pyttsx3.init("kuhu")
    engine.save_to_file(f"请{order_number}号顾客取餐。", str(path))
    engine.runAndWait()


def test_announcement_is_synthesized_once(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    out = tmp_path / "announce.wav"
    announce(42, out)
    assert out.read_bytes()[:4] == b"RIFF"
    (request,) = kuhu_emulator.requests
    assert request.text == "请42号顾客取餐。"
    assert request.outcome == "ok"


def test_app_survives_one_server_error(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    kuhu_emulator.fail_next("500")
    announce(7, tmp_path / "announce.wav")
    assert [r.outcome for r in kuhu_emulator.requests] == ["fault:500", "ok"]
