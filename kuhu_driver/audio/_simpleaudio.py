"""simpleaudio, kept as a selectable backend: one stream per segment, played in turn."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Any

from ..errors import AudioDeviceError
from ._player import NO_DEVICE_HINT, Segment, StreamBase

logger = logging.getLogger(__name__)


def check_simpleaudio() -> None:
    """Refuse a simpleaudio that would crash this interpreter (stock 1.0.4 on 3.12+)."""
    if sys.version_info < (3, 12):
        return
    from importlib import metadata

    try:
        metadata.version("simpleaudio-patched")
    except metadata.PackageNotFoundError:
        pass
    else:
        return
    try:
        version = metadata.version("simpleaudio")
    except metadata.PackageNotFoundError:
        return  # not installed: the import fails with its own clear error
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if parts <= (1, 0, 4):
        raise AudioDeviceError(
            f"simpleaudio {version} crashes Python {sys.version_info[0]}."
            f"{sys.version_info[1]} at the end of every playback (it frees memory "
            "without holding the GIL), so kuhu_driver will not load it. Use the default "
            "backend (pip install miniaudio; unset KUHU_AUDIO), or a fixed fork: "
            "pip uninstall simpleaudio && pip install simpleaudio-patched"
        )


class SimpleaudioPlayer(StreamBase):
    """One simpleaudio stream per segment, the next started once the last has finished.

    A feeder thread plays the queue in order; marks follow the clock from each stream's
    start, bounded by the stream really playing.
    """

    backend = "simpleaudio"
    #: Silence before each stream's audio (see ``_play``).
    LEAD_MS = 15

    def __init__(self) -> None:
        super().__init__()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._handle: Any = None
        self._module: Any = None

    def preload(self) -> None:
        with contextlib.suppress(Exception):  # prepare() says what is wrong, if anything
            check_simpleaudio()
            import simpleaudio  # noqa: F401

    def prepare(self, sample_rate: int) -> None:
        if self._module is None:
            check_simpleaudio()
            try:
                import simpleaudio
            except ImportError as exc:
                raise AudioDeviceError(
                    f"the simpleaudio backend is not installed ({exc}): "
                    "pip install 'kuhu-driver[simpleaudio]', or unset KUHU_AUDIO"
                ) from exc
            self._module = simpleaudio
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="kuhu-simpleaudio", daemon=True
                )
                self._thread.start()

    def enqueue(self, seg: Segment) -> None:
        self.prepare(seg.sample_rate)
        with self._wake:
            if not self._queue:
                self._last_progress = time.monotonic()
            self._queue.append(seg)
            self._wake.notify()

    def _silence_now(self) -> None:
        handle = self._handle
        if handle is not None:
            handle.stop()
        with self._wake:
            self._wake.notify_all()  # a paused segment, dropped, stops waiting

    def _stalled(self) -> bool:
        return False  # a simpleaudio stream reports its own failures; is_playing ends

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue:
                    self._wake.wait()
                seg = self._queue[0]
            try:
                self._play(seg)
            except BaseException as exc:  # handed to whoever waits on the segment
                seg._drop(exc)
            with self._lock:
                if self._queue and self._queue[0] is seg:
                    self._queue.popleft()
            seg.done.set()

    def _play(self, seg: Segment) -> None:
        while seg.pos < seg.frames and not seg.dropped:
            with self._wake:
                while self._paused and not seg.dropped:
                    self._wake.wait()
            if seg.dropped or not self._play_from(seg):
                return

    def _play_from(self, seg: Segment) -> bool:
        """Play ``seg`` from ``seg.pos``; False if it was dropped, True if it ended or
        was paused (``seg.pos`` then holds where, as the clock counts it)."""
        # ALSA's PulseAudio plugin drops the first few milliseconds of every new stream
        # (measured: 7 ms each): lead with silence so that the speech is heard whole.
        lead = seg.sample_rate * self.LEAD_MS // 1000
        first = seg.pos
        try:
            handle = self._module.play_buffer(
                bytes(2 * lead) + seg.pcm[2 * first :], 1, 2, seg.sample_rate
            )
        except Exception as exc:  # simpleaudio raises its own SimpleaudioError
            raise AudioDeviceError(
                f"could not open the audio device ({exc}): {NO_DEVICE_HINT}"
            ) from None
        self._handle = handle
        start = time.monotonic() + lead / seg.sample_rate
        try:
            while handle.is_playing():
                if seg.dropped:
                    handle.stop()
                    return False
                elapsed = max(0.0, time.monotonic() - start)
                seg.pos = min(seg.frames, first + int(elapsed * seg.sample_rate))
                self._last_progress = time.monotonic()
                seg._fire_marks()
                if self._paused:
                    handle.stop()  # resumed later from seg.pos, by the clock
                    return True
                time.sleep(0.001)
        finally:
            self._handle = None
        seg.pos = seg.frames
        seg._fire_marks()
        return True

    def _held(self, paused: bool) -> None:
        with self._wake:
            self._wake.notify_all()

    def close(self) -> None:
        if self._paused:
            self.stop()  # held audio is never heard: closing does not wait for it
        with self._lock:
            last = self._queue[-1] if self._queue else None
        if last is not None:
            self.wait(last, threading.Event(), drain=True)
