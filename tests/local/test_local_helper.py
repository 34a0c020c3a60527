"""The local voice's helper on Windows and macOS, simulated: pyttsx3 runs a fake
platform driver (tests/local/fake_platform_driver.py) in the real helper process, which
writes the files SAPI5 and NSSpeechSynthesizer write (WAV with an 18-byte fmt chunk,
AIFF, AIFF-C little- and big-endian), fails as they fail, and lists voices as they do."""

from __future__ import annotations

import json
import os
import struct
import sys
import time
from pathlib import Path

import pytest

from kuhu_driver.errors import LocalVoiceError
from kuhu_driver.local import LocalVoice, helper_python

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fake_platform_driver as fake  # noqa: E402


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake driver installed by name (an entry point), chosen for the helper; the
    log of what it was asked."""
    site = tmp_path / "site"
    info = site / "fake_platform_driver-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-platform-driver\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[pyttsx3.drivers]\nfakeplatform = fake_platform_driver\n"
    )
    path = [str(site), str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))
    monkeypatch.setenv("KUHU_LOCAL_DRIVER", "fakeplatform")
    log = tmp_path / "asked.jsonl"
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


def pcm_of(text: str) -> bytes:
    values = fake.samples(text)
    return struct.pack(f"<{len(values)}h", *values)


@pytest.mark.parametrize("mode", ["wav18", "aiff", "aifc-sowt", "aifc-twos"])
def test_every_file_the_platforms_write_is_read_to_the_sample(
    platform: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", mode)
    with LocalVoice() as voice:
        assert voice.synthesize("hello there") == (pcm_of("hello there"), fake.RATE)
        assert voice.synthesize("你好") == (pcm_of("你好"), fake.RATE)
    asked = [json.loads(line) for line in platform.read_text().splitlines()]
    assert [a["voice"] for a in asked] == ["en-voice", "zh-voice"]  # Chinese for Chinese


def test_pieces_in_a_row_are_each_whole_when_the_platform_writes_asynchronously(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NSSpeechSynthesizer and SAPI5 write files asynchronously, and stop() cuts them
    off. Under pyttsx3 2.99 the helper's one engine ran the second request's file before
    the loop, whose first pump then stopped it: every second piece was cut short, and
    after four failures the local voice was off for the process."""
    with LocalVoice() as voice:
        for i in range(9):
            text = f"第{i}句话。"
            assert voice.synthesize(text) == (pcm_of(text), fake.RATE), i


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("header-only", "no audio"),
        ("never", "no sound file was written"),
        ("raise", "no sound file was written"),  # pyttsx3 swallows the driver's error
    ],
)
def test_a_platform_that_fails_is_a_local_voice_error_and_a_fresh_helper(
    platform: Path, monkeypatch: pytest.MonkeyPatch, mode: str, says: str
) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", mode)
    with LocalVoice() as voice:
        with pytest.raises(LocalVoiceError, match=says):
            voice.synthesize("hello")
        first = voice._proc
        assert first is None  # stopped: the next piece gets a fresh one
        monkeypatch.setenv("FAKE_PLATFORM", "wav18")
        assert voice.synthesize("hello") == (pcm_of("hello"), fake.RATE)


def test_a_helper_that_hangs_counts_as_a_failure_so_it_cannot_hang_for_ever(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A platform that never reports a file done (SAPI5 under pyttsx3 2.99 can wait out
    the synthesis timeout): each such piece restarts the helper and counts, so after
    MAX_RESTARTS the local voice is off at once instead of stalling every piece."""
    from kuhu_driver.local import _voice

    monkeypatch.setattr(_voice, "SYNTH_TIMEOUT", 0.5)
    monkeypatch.setenv("FAKE_PLATFORM", "hang")
    with LocalVoice() as voice:
        for _ in range(_voice.MAX_RESTARTS + 1):
            with pytest.raises(LocalVoiceError, match="did not answer"):
                voice.synthesize("hello")
        t0 = time.monotonic()
        with pytest.raises(LocalVoiceError, match="failed too often"):
            voice.synthesize("hello")
        assert time.monotonic() - t0 < 0.5  # no helper started, no wait


def test_no_chinese_voice_is_one_clear_error_not_silence(
    platform: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", "english-only")
    with LocalVoice() as voice:
        for _ in range(2):
            with pytest.raises(LocalVoiceError, match="no Chinese voice"):
                voice.synthesize("你好")
        assert voice.synthesize("hello") == (pcm_of("hello"), fake.RATE)
    assert len([r for r in caplog.records if "no Chinese voice" in r.getMessage()]) == 1


def test_chinese_said_as_silence_is_the_same_clear_error(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The voice list may claim a Chinese voice whose output for Chinese is silence."""
    monkeypatch.setenv("FAKE_PLATFORM", "silent")
    with LocalVoice() as voice, pytest.raises(LocalVoiceError, match="no Chinese voice"):
        voice.synthesize("你好")


def test_voices_that_cannot_be_listed_fall_back_to_the_default_voice(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", "bad-voices")
    with LocalVoice() as voice:
        assert voice.synthesize("你好") == (pcm_of("你好"), fake.RATE)


def test_windows_voices_pyttsx3_cannot_list_are_read_from_sapi_and_mandarin_wins(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyttsx3 2.99 lists no voice when one reports "409;9" (NaturalVoiceSAPIAdapter):
    SAPI's tokens are read instead, and of Cantonese (C04) and Mandarin (804) the
    Mandarin voice speaks; English text keeps the default voice."""
    monkeypatch.setenv("FAKE_PLATFORM", "sapi-409")
    with LocalVoice() as voice:
        assert voice.synthesize("你好") == (pcm_of("你好"), fake.RATE)
        voice.synthesize("hello")
    asked = [json.loads(line) for line in platform.read_text().splitlines()]
    assert asked[0]["voice"].endswith("\\TTS_MS_ZH-CN_HUIHUI_11.0")
    assert asked[1]["voice"] == "en-voice"


def test_a_cantonese_voice_listed_first_is_passed_over_for_mandarin(
    platform: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", "zh-hk-first")
    with LocalVoice() as voice:
        voice.synthesize("你好")
    (asked,) = [json.loads(line) for line in platform.read_text().splitlines()]
    assert asked["voice"] == "zh-voice"


def test_markup_is_said_never_obeyed(platform: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLATFORM", "wav18")
    with LocalVoice() as voice:
        voice.synthesize('<volume level="0">轻声</volume> and [[slnc 5000]]')
    (asked,) = [json.loads(line) for line in platform.read_text().splitlines()]
    assert "<" not in asked["text"] and "[[" not in asked["text"]
    # Written out here: full-width angle brackets, said as the same words, never parsed.
    assert asked["text"] == '＜volume level="0"＞轻声＜/volume＞ and [ [slnc 5000] ]'
    assert "volume" in asked["text"] and "slnc" in asked["text"]  # every word still said


def test_a_frozen_or_embedded_program_gets_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(LocalVoiceError, match="frozen or embedded"):
        helper_python()
    monkeypatch.delattr(sys, "frozen")
    monkeypatch.setattr(sys, "executable", "/Applications/Blender.app/Contents/MacOS/Blender")
    with pytest.raises(LocalVoiceError, match="frozen or embedded"):
        helper_python()


@pytest.mark.parametrize(
    ("platform_name", "version", "allowed"),
    [
        ("darwin", "2.90", False),  # runAndWait returns before the file is written
        ("darwin", "2.91", False),
        ("darwin", "2.98", False),  # save_to_file raises, then every call fails
        ("darwin", "2.92", True),
        ("darwin", "2.99", True),
        ("win32", "2.90", True),
        ("linux", "2.90", True),
    ],
)
def test_pyttsx3_versions_that_break_the_local_voice_are_not_installed(
    platform_name: str, version: str, allowed: bool
) -> None:
    from packaging.requirements import Requirement

    text = (HERE.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    lines = [line.strip().strip('",') for line in text.splitlines()]
    wanted = [Requirement(line) for line in lines if line.startswith("pyttsx3")]
    env = {"sys_platform": platform_name}
    applying = [r for r in wanted if r.marker is None or r.marker.evaluate(env)]
    assert len(applying) == 1, applying
    assert applying[0].specifier.contains(version) is allowed
