"""Playback through simpleaudio, behind a small Player interface."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from .errors import AudioDeviceError

__all__ = ["PlayHandle", "Player", "SimpleaudioPlayer", "wait_playback"]


class PlayHandle(Protocol):
    def is_playing(self) -> bool: ...

    def stop(self) -> None: ...


class Player(Protocol):
    """Starts playing mono 16-bit PCM and returns at once."""

    def play(self, pcm: bytes, sample_rate: int) -> PlayHandle: ...


class SimpleaudioPlayer:
    """The default player: one simpleaudio stream per piece."""

    def play(self, pcm: bytes, sample_rate: int) -> PlayHandle:
        import simpleaudio  # imported on first play: it opens ALSA's libraries

        try:
            handle: PlayHandle = simpleaudio.play_buffer(pcm, 1, 2, sample_rate)
        except Exception as exc:  # simpleaudio raises its own SimpleaudioError
            raise AudioDeviceError(
                f"could not open the audio device ({exc}): is there a sound card or a "
                "running sound server? Without one, write audio to a file instead: "
                "engine.save_to_file(text, 'out.wav') or kuhu-say --out out.wav"
            ) from exc
        return handle


def wait_playback(
    handle: PlayHandle,
    duration: float,
    cancel: threading.Event,
    marks: Sequence[float] = (),
    on_mark: Callable[[int], None] | None = None,
) -> bool:
    """Wait until ``handle`` has played; call ``on_mark(i)`` as playback reaches ``marks[i]``.

    Returns False (after stopping playback at once) if ``cancel`` is set. It polls the
    stream every few milliseconds near the end, not every 50 ms as
    ``PlayObject.wait_done()`` does, so the next piece starts without a gap. A mark not
    reached when the device has taken all the audio fires then.
    """
    try:
        return _wait(handle, duration, cancel, marks, on_mark)
    except BaseException:
        handle.stop()  # Ctrl-C, or a failing callback: never leave sound playing
        raise


def _wait(
    handle: PlayHandle,
    duration: float,
    cancel: threading.Event,
    marks: Sequence[float],
    on_mark: Callable[[int], None] | None,
) -> bool:
    start = time.monotonic()
    i = 0
    while True:
        now = time.monotonic() - start
        playing = handle.is_playing()
        while i < len(marks) and (marks[i] <= now or not playing):
            if on_mark is not None:
                on_mark(i)
            i += 1
        if not playing:
            return True
        next_t = marks[i] if i < len(marks) else duration
        wait = min(max(next_t - now, 0.001), 0.01)
        if cancel.wait(wait):
            handle.stop()
            return False
