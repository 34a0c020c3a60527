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
    """Starts playing mono 16-bit PCM and returns at once; ``stop()`` silences it all."""

    def play(self, pcm: bytes, sample_rate: int) -> PlayHandle: ...

    def stop(self) -> None: ...


class SimpleaudioPlayer:
    """The default player: one simpleaudio stream per piece.

    A piece may start while the previous stream still drains its last buffer (that is
    what keeps pieces gapless); on a device that cannot mix two streams, opening fails
    while the old one drains, so we wait for it and try once more.
    """

    def __init__(self) -> None:
        self._last: PlayHandle | None = None
        self._previous: PlayHandle | None = None

    def stop(self) -> None:
        """Silence every stream this player started, draining ones included."""
        for handle in (self._previous, self._last):
            if handle is not None:
                handle.stop()

    def play(self, pcm: bytes, sample_rate: int) -> PlayHandle:
        import simpleaudio  # imported on first play: it opens ALSA's libraries

        try:
            handle: PlayHandle = simpleaudio.play_buffer(pcm, 1, 2, sample_rate)
        except Exception as first:  # simpleaudio raises its own SimpleaudioError
            last = self._last
            if last is None or not last.is_playing():
                raise self._device_error(first) from first
            deadline = time.monotonic() + 2.0
            while last.is_playing() and time.monotonic() < deadline:
                time.sleep(0.001)
            try:
                handle = simpleaudio.play_buffer(pcm, 1, 2, sample_rate)
            except Exception as exc:
                raise self._device_error(exc) from exc
        self._previous, self._last = self._last, handle
        return handle

    @staticmethod
    def _device_error(exc: Exception) -> AudioDeviceError:
        return AudioDeviceError(
            f"could not open the audio device ({exc}): is there a sound card or a "
            "running sound server? Without one, write audio to a file instead: "
            "engine.save_to_file(text, 'out.wav') or kuhu-say --out out.wav"
        )


def wait_playback(
    handle: PlayHandle,
    duration: float,
    cancel: threading.Event,
    marks: Sequence[float] = (),
    on_mark: Callable[[int], None] | None = None,
    *,
    drain: bool = True,
) -> bool:
    """Wait until ``handle`` has played; call ``on_mark(i)`` as playback reaches ``marks[i]``.

    Returns False (after stopping playback at once) if ``cancel`` is set. With
    ``drain=False`` it returns as soon as ``duration`` has passed, while the device still
    plays its last buffer, so that the next piece starts when this one ends instead of
    a device latency later; with ``drain=True`` it waits until the stream has closed.
    It polls every millisecond or so near the end, not every 50 ms as
    ``PlayObject.wait_done()`` does. A mark not reached when the device has taken all
    the audio fires then.
    """
    try:
        return _wait(handle, duration, cancel, marks, on_mark, drain)
    except BaseException:
        handle.stop()  # Ctrl-C, or a failing callback: never leave sound playing
        raise


def _wait(
    handle: PlayHandle,
    duration: float,
    cancel: threading.Event,
    marks: Sequence[float],
    on_mark: Callable[[int], None] | None,
    drain: bool,
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
        if not playing or (not drain and now >= duration and i >= len(marks)):
            return True
        next_t = marks[i] if i < len(marks) else duration
        wait = min(max(next_t - now, 0.001), 0.01)
        if cancel.wait(wait):
            handle.stop()
            return False
