"""The player's own logic, without a device: how the stream is cut from the queue, marks,
stop, the stall watchdog, and which backend is chosen. What a device really plays is
tested in test_driver.py (exact bytes) and test_paced.py (what a listener hears)."""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from kuhu_driver._config import resolve_settings
from kuhu_driver.audio import Segment, _player, _simpleaudio, make_player
from kuhu_driver.audio._miniaudio import MiniaudioPlayer
from kuhu_driver.errors import AudioDeviceError, ConfigError


class FakeDevice:
    """Stands for an open miniaudio device: the test pulls frames as a device would."""

    def close(self) -> None:
        pass


def player_with_fake_device(rate: int = 1000) -> MiniaudioPlayer:
    player = MiniaudioPlayer()
    player._device = FakeDevice()
    player._rate = rate
    return player


def pcm(*values: int) -> bytes:
    return b"".join(v.to_bytes(2, "little", signed=True) for v in values)


def test_the_stream_is_the_queue_back_to_back_then_silence() -> None:
    player = player_with_fake_device()
    a, b = Segment(pcm(1, 2, 3), 1000), Segment(pcm(4, 5), 1000)
    player.enqueue(a)
    player.enqueue(b)
    assert player._take(2) == pcm(1, 2)
    assert not a.done.is_set()
    # One period takes the end of a and the start of b: nothing between them.
    assert player._take(2) == pcm(3, 4)
    assert a.done.is_set() and a.end_frame == 3
    assert player._take(3) == pcm(5, 0, 0)
    assert b.done.is_set() and b.end_frame == 5


def test_the_device_lead_is_measured_and_a_late_callback_is_a_dropout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """How much audio the device holds is what it took ahead of real time (so a drain
    waits for all of it), and a callback so late that the device ran dry is counted."""
    from types import SimpleNamespace

    now = [100.0]
    # The player's clock only (the device thread reads time.monotonic in that module).
    monkeypatch.setattr(
        "kuhu_driver.audio._miniaudio.time", SimpleNamespace(monotonic=lambda: now[0])
    )
    player = player_with_fake_device(rate=1000)
    assert player.latency_frames == 60  # before any measure: the 3 x 20 ms asked for
    for _ in range(5):  # the device fills its 100 ms buffer at once, then asks on time
        player._take(20)
    for _ in range(50):
        now[0] += 0.02
        player._take(20)
    assert player.latency_frames == 100  # 100 ms taken ahead of real time
    assert player.underruns == 0
    now[0] += 0.15  # the callback comes 130 ms late: the device ran dry for 30 ms
    player._take(20)
    assert player.underruns == 1
    for _ in range(200):  # on time again; the lead is measured afresh
        now[0] += 0.02
        player._take(20)
    assert player.underruns == 1
    assert player.latency_frames == 60  # after the dropout the buffer held one period

    # The device opened again (another sample rate, a sound server back): its lead is
    # its own, not the frames the stream took before it (a drain waited 1 s for those).
    class Restartable(FakeDevice):
        backend = "fake"

        def start(self, gen: object) -> None:
            pass

    player._start(Restartable(), player._feed(), 1000)
    for _ in range(3):  # its buffer fills with 40 ms, then it asks on time
        player._take(20)
    for _ in range(200):
        now[0] += 0.02
        player._take(20)
    assert player.latency_frames == 60 and player.underruns == 1


def test_marks_fire_once_each_in_order_as_their_frames_are_taken() -> None:
    player = player_with_fake_device()
    fired: list[tuple[int, int]] = []
    seg = Segment(pcm(*range(1, 11)), 1000, [0, 4, 5, 9], lambda i: fired.append((i, seg.pos)))
    player.enqueue(seg)
    player._take(4)
    assert fired == [(0, 4)]
    player._take(2)
    assert fired == [(0, 4), (1, 6), (2, 6)]
    player._take(10)
    assert [i for i, _ in fired] == [0, 1, 2, 3]


def test_a_failing_mark_callback_reaches_the_waiter_not_the_device_thread() -> None:
    player = player_with_fake_device()

    def boom(i: int) -> None:
        raise RuntimeError("callback failed")

    seg = Segment(pcm(1, 2, 3), 1000, [1], boom)
    player.enqueue(seg)
    assert player._take(4) == pcm(1, 2, 3, 0)  # the device still gets its samples
    with pytest.raises(RuntimeError, match="callback failed"):
        player.wait(seg, threading.Event(), drain=False)


def test_stop_drops_everything_queued_and_the_stream_goes_silent() -> None:
    player = player_with_fake_device()
    a, b = Segment(pcm(1, 2, 3, 4), 1000), Segment(pcm(5, 6), 1000)
    player.enqueue(a)
    player.enqueue(b)
    player._take(1)
    player.stop()
    assert a.done.is_set() and a.dropped and b.dropped
    assert player._take(3) == pcm(0, 0, 0)
    assert player.wait(a, threading.Event(), drain=False) is False
    # Ready for the next utterance.
    c = Segment(pcm(7), 1000)
    player.enqueue(c)
    assert player._take(2) == pcm(7, 0)


def test_cancel_while_waiting_stops_playback() -> None:
    player = player_with_fake_device()
    seg = Segment(pcm(*([1] * 1000)), 1000)
    player.enqueue(seg)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    assert player.wait(seg, cancel, drain=False) is False
    assert seg.dropped


def test_lead_returns_early_and_fires_the_remaining_marks_first() -> None:
    player = player_with_fake_device()
    fired: list[int] = []
    seg = Segment(pcm(*([1] * 100)), 1000, [10, 95], fired.append)
    player.enqueue(seg)
    player._take(50)
    # 50 ms left, lead 60 ms: returns now, with the last word's mark already fired.
    assert player.wait(seg, threading.Event(), drain=False, lead=0.06) is True
    assert fired == [0, 1]
    player._take(100)
    assert fired == [0, 1]  # not again


def test_a_device_that_stops_taking_audio_is_an_error_and_is_reopened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_player, "STALL_SECONDS", 0.2)
    player = player_with_fake_device()
    opened: list[int] = []
    monkeypatch.setattr(player, "_open", lambda rate: opened.append(rate))
    a, b = Segment(pcm(1, 2, 3), 1000), Segment(pcm(4), 1000)
    player.enqueue(a)
    player.enqueue(b)
    player._take(1)  # then nothing: unplugged
    t0 = time.monotonic()
    with pytest.raises(AudioDeviceError, match="stopped taking audio"):
        player.wait(a, threading.Event(), drain=False)
    assert time.monotonic() - t0 < 1.0
    assert b.dropped and isinstance(b.error, AudioDeviceError)
    assert player._device is None
    player.prepare(1000)
    assert opened == [1000]


def test_the_default_backend_is_miniaudio_and_simpleaudio_can_be_chosen() -> None:
    assert isinstance(make_player(), MiniaudioPlayer)
    assert isinstance(make_player("miniaudio"), MiniaudioPlayer)
    assert isinstance(make_player(" SimpleAudio "), _simpleaudio.SimpleaudioPlayer)
    with pytest.raises(ConfigError, match="KUHU_AUDIO"):
        make_player("pyaudio")
    assert resolve_settings(env={"KUHU_AUDIO": "simpleaudio"}, require_key=False).audio == (
        "simpleaudio"
    )
    with pytest.raises(ConfigError, match="KUHU_AUDIO"):
        resolve_settings(env={"KUHU_AUDIO": "alsa"}, require_key=False)


def test_without_miniaudio_simpleaudio_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "miniaudio" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert isinstance(make_player(), _simpleaudio.SimpleaudioPlayer)


@pytest.mark.parametrize(
    ("python", "installed", "refused"),
    [
        ((3, 11), {"simpleaudio": "1.0.4"}, False),
        ((3, 12), {"simpleaudio": "1.0.4"}, True),
        ((3, 13), {"simpleaudio": "1.0.3"}, True),
        ((3, 12), {"simpleaudio": "1.0.4", "simpleaudio-patched": "1.0.5"}, False),
        ((3, 12), {"simpleaudio-patched": "1.0.5"}, False),
        ((3, 13), {"simpleaudio": "1.1.0"}, False),  # a fixed release, some day
    ],
)
def test_a_simpleaudio_that_would_crash_is_never_loaded(
    monkeypatch: pytest.MonkeyPatch,
    python: tuple[int, int],
    installed: dict[str, str],
    refused: bool,
) -> None:
    def version(name: str) -> str:
        if name in installed:
            return installed[name]
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sys, "version_info", (*python, 0, "final", 0))
    monkeypatch.setattr(metadata, "version", version)
    monkeypatch.delitem(sys.modules, "simpleaudio", raising=False)
    player = _simpleaudio.SimpleaudioPlayer()
    if refused:
        player.preload()  # loading ahead never raises, and never loads it either
        assert "simpleaudio" not in sys.modules
        with pytest.raises(AudioDeviceError, match="simpleaudio-patched") as info:
            player.prepare(22050)
        assert "crashes Python" in str(info.value)
        assert "simpleaudio" not in sys.modules  # never imported
    else:
        _simpleaudio.check_simpleaudio()


def test_preloading_loads_the_library_opens_nothing_and_says_nothing(tmp_path: Path) -> None:
    """``preload`` (run aside 0.2 s after ``pyttsx3.init``) imports miniaudio and readies
    ALSA's quiet handler; no device is opened, so nothing is printed or billed, even on
    a machine without a sound card."""
    import subprocess

    from rig import NO_PULSE, make_broken_home

    make_broken_home(tmp_path)
    program = (
        "import sys\n"
        "from kuhu_driver.audio import make_player, _alsa\n"
        "player = make_player('miniaudio')\n"
        "assert 'miniaudio' not in sys.modules\n"
        "player.preload()\n"
        "assert 'miniaudio' in sys.modules and 'lib' in _alsa._state\n"
        "assert player._device is None\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "PULSE_SERVER": NO_PULSE}
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert out.stdout == "ok\n" and out.stderr == "", out.stderr


def test_no_sound_card_is_one_clear_error_without_alsas_screenful(tmp_path: Path) -> None:
    import subprocess
    import sys

    from rig import NO_PULSE, make_broken_home

    make_broken_home(tmp_path)
    env = {**os.environ, "HOME": str(tmp_path), "PULSE_SERVER": NO_PULSE, "KUHU_API_KEY": "k"}
    program = (
        "from kuhu_driver.audio import make_player\n"
        "from kuhu_driver.errors import AudioDeviceError\n"
        "try:\n"
        "    make_player('miniaudio').prepare(22050)\n"
        "except AudioDeviceError as exc:\n"
        "    print('refused:', exc)\n"
    )
    play = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert play.stdout.startswith("refused: could not open the audio device")
    check = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--check", "--no-request"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "FAIL audio" in check.stdout
    for out in (play.stderr, check.stderr):
        assert "ALSA lib" not in out, out  # was about 40 lines before our own
