from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import XIAOWAN, expected_pcm, kuhu_threads

from kuhu_driver import AuthError, speak
from kuhu_driver.testing import KuhuEmulator


def test_speak_blocks_until_spoken(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    """When speak() returns, all of it has reached the device: read at once (50 ms
    allowed for the pipe into the capture file), not after waiting for more."""
    speak("你好。这是第二句，稍长一些。", voice="小婉", rate=300, volume=1.0, pitch=1.5)
    got = capture.read_now()
    assert got == expected_pcm(
        kuhu_emulator,
        "你好。这是第二句，稍长一些。",
        voice=XIAOWAN,
        rate=1.5,
        volume=100,
        pitch=1.5,
    )
    # Its two pieces are fetched side by side: which reaches the server first may vary.
    assert sorted(r.text for r in kuhu_emulator.requests) == sorted(
        ["你好。", "这是第二句，稍长一些。"]
    )


def test_speak_raises_kuhu_errors(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    kuhu_emulator.fail_next("json403")
    with pytest.raises(AuthError):
        speak("不行")
    assert capture.read() == b""


@pytest.mark.parametrize("bad", ["", "   ", None, 42])
def test_speak_refuses_empty_or_non_text(kuhu_emulator: KuhuEmulator, bad: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        speak(bad)
    assert kuhu_emulator.requests == []


def test_no_sound_device_is_a_clear_error(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    from rig import make_broken_home

    make_broken_home(tmp_path)
    code = (
        "import pyttsx3\n"
        "e = pyttsx3.init('kuhu')\n"
        "errs = []\n"
        "e.connect('error', lambda name, exception: errs.append(exception))\n"
        "e.connect('finished-utterance', lambda name, completed: print('completed', completed))\n"
        "e.say('没有声卡')\n"
        "e.runAndWait()\n"
        "print(type(errs[0]).__name__, '|', errs[0])\n"
        "from kuhu_driver import speak\n"
        "try:\n"
        "    speak('没有声卡')\n"
        "except Exception as exc:\n"
        "    print('speak:', type(exc).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **kuhu_emulator.env(), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "completed False"
    assert lines[1].startswith("AudioDeviceError |")
    assert "save_to_file" in lines[1]
    assert lines[2] == "speak: AudioDeviceError"


def test_speak_opens_the_connection_while_the_device_opens(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection's round trips pass while the device opens (made slow here): the
    request is sent on a connection opened before the device was ready."""
    from kuhu_driver.audio import make_player
    from kuhu_driver.pipeline import _session

    opening = 0.4

    def slow_player(audio: Any) -> Any:
        player = make_player(audio)
        prepare = player.prepare

        def slow_prepare(sample_rate: int) -> None:
            time.sleep(opening)
            prepare(sample_rate)

        player.prepare = slow_prepare  # type: ignore[method-assign]
        return player

    monkeypatch.setattr(_session, "make_player", slow_player)
    speak("你好。")
    (req,) = kuhu_emulator.requests
    assert req.connection == 1 and req.arrived - req.connection_opened >= opening - 0.05
    assert kuhu_emulator.connections == 1 and kuhu_emulator.heads == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。")


def test_speak_opens_nothing_for_text_it_cannot_speak(kuhu_emulator: KuhuEmulator) -> None:
    with pytest.raises(ValueError):
        speak("   ")
    # Refused before any connection was begun: none opening in the background either.
    assert kuhu_threads("kuhu-connect", "kuhu-warm", "kuhu-tls") == []
    assert kuhu_emulator.connections == 0
