"""The default backend: one miniaudio device whose callback streams the queue."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Generator
from typing import Any

from .._exit_order import at_exit as exit_step
from ..errors import AudioDeviceError
from ._alsa import quiet_alsa, quiet_alsa_ready
from ._player import NO_DEVICE_HINT, Segment, StreamBase

logger = logging.getLogger(__name__)

#: How many recent callbacks the lead is measured over (about 2.5 s of 20 ms periods):
#: long enough to see a callback that came on time, short enough to follow clock drift.
LEADS_KEPT = 128

_open_players: weakref.WeakSet[MiniaudioPlayer] = weakref.WeakSet()


@exit_step("audio")
def _close_all() -> None:
    # A device thread calling into Python while the interpreter shuts down is unsafe:
    # close every device first (atexit runs before finalization).
    for player in list(_open_players):
        player.close()


class MiniaudioPlayer(StreamBase):
    """The default backend: one miniaudio device whose callback streams the queue.

    Periods of 20 ms, three of them, asked for: the callback runs every 20 ms. How much
    audio really sits between the callback and the listener is measured, not assumed:
    the device takes audio ahead of real time until its buffers are full (ALSA's pulse
    plugin holds more than the 60 ms asked for), so the frames written less the frames
    real time has consumed since the device started is that lead. A segment is heard
    once that many frames have been written after its end (``_drained``): a program
    that ends right after ``runAndWait`` loses nothing. A ``stop()`` empties the queue;
    what the sound server holds (measured: about 15 ms on PulseAudio) still plays.
    """

    backend = "miniaudio"
    streams = True
    PERIOD_MS = 20
    PERIODS = 3

    def __init__(self) -> None:
        super().__init__()
        self._device: Any = None
        self._rate = 0
        self._frames_out = 0
        self._last_end: int | None = None
        #: Frames of silence written between one segment's end and the next one's start,
        #: for the last segments played (what a listener hears as a gap at a seam).
        self.seam_gaps: deque[int] = deque(maxlen=256)
        self._open_lock = threading.Lock()
        self._started: float | None = None  # when the device first asked for audio
        #: Recent leads of what was written over what real time has consumed (frames).
        self._leads: deque[float] = deque(maxlen=LEADS_KEPT)
        self._last_frames = 0
        self._base_frames = 0  # frames the stream had taken before this device's first
        #: Callbacks that found the device had run dry (dropouts), since it was opened.
        self.underruns = 0

    @property
    def latency_frames(self) -> int:
        """Frames between the callback and the listener: the largest recent lead
        measured (see the class docstring), and never less than the buffer asked for."""
        asked = self._rate * self.PERIOD_MS * self.PERIODS // 1000
        with self._lock:
            measured = max(self._leads, default=0.0)
        return max(asked, min(round(measured), self._rate))  # at most 1 s: a stalled clock

    def preload(self) -> None:
        # Importing miniaudio (its C library and cffi bindings) takes 35-50 ms, three
        # times as long as opening a device on PulseAudio: paid here, ahead of need.
        with contextlib.suppress(Exception):
            import miniaudio  # noqa: F401

            quiet_alsa_ready()

    def prepare(self, sample_rate: int) -> None:
        with self._open_lock:
            if self._device is not None and self._rate == sample_rate:
                return
            self._wait_idle()
            self._close_device()
            self._open(sample_rate)

    def _open(self, rate: int) -> None:
        try:
            import miniaudio
        except ImportError as exc:  # pragma: no cover - make_player checks first
            raise AudioDeviceError(f"the miniaudio backend is not installed ({exc})") from exc
        # Every real backend, never the null one: no device must be an error, not silence.
        backends = [b for b in miniaudio.Backend if b.name not in ("NULL", "CUSTOM")]
        gen = self._feed()
        next(gen)
        try:
            with quiet_alsa():  # our own error says it once, in words a user can act on
                device = self._device_for(miniaudio, rate, backends)
        except Exception as exc:  # miniaudio raises MiniaudioError and others
            raise AudioDeviceError(
                f"could not open the audio device ({exc}): {NO_DEVICE_HINT}"
            ) from None
        with quiet_alsa():
            self._start(device, gen, rate)

    def _device_for(self, miniaudio: Any, rate: int, backends: list[Any]) -> Any:
        return _owning_device_class(miniaudio)(
            output_format=miniaudio.SampleFormat.SIGNED16,
            nchannels=1,
            sample_rate=rate,
            buffersize_msec=self.PERIOD_MS,
            callback_periods=self.PERIODS,
            backends=backends,
            app_name="kuhu_driver",
        )

    def _start(self, device: Any, gen: Generator[bytes, int, None], rate: int) -> None:
        self._rate = rate
        with self._lock:
            self._started = None
            self._leads.clear()
            self._last_frames = self._frames_out
        self._last_progress = time.monotonic()
        try:
            device.start(gen)
        except Exception as exc:
            device.close()
            raise AudioDeviceError(
                f"could not start the audio device ({exc}): {NO_DEVICE_HINT}"
            ) from None
        self._device = device
        self.device = f"{_device_name(device)} ({getattr(device, 'backend', '?')})"
        _open_players.add(self)
        logger.debug("audio: miniaudio device open (%s, %d Hz)", device.backend, rate)

    def _feed(self) -> Generator[bytes, int, None]:
        frames = yield b""
        while True:
            frames = yield self._take(frames)

    def _take(self, frames: int) -> bytes:
        """The next ``frames`` of the stream: queued audio, then silence. Never raises."""
        out = bytearray()
        touched: list[Segment] = []
        finished: list[Segment] = []
        want = frames * 2
        try:
            with self._lock:
                self._last_progress = time.monotonic()
                # Paused: silence, and the queue holds its place to the sample.
                while len(out) < want and self._queue and not self._paused:
                    seg = self._queue[0]
                    if seg.pos == 0 and self._last_end is not None:
                        # Silence this stream wrote between the last segment and this one
                        # (0: joined sample for sample).
                        self.seam_gaps.append(self._frames_out + len(out) // 2 - self._last_end)
                    start = seg.pos * 2
                    chunk = seg.pcm[start : start + want - len(out)]
                    out += chunk
                    seg.pos += len(chunk) // 2
                    touched.append(seg)
                    if seg.pos >= seg.frames:
                        self._queue.popleft()
                        seg.end_frame = self._frames_out + len(out) // 2
                        self._last_end = seg.end_frame
                        finished.append(seg)
                self._frames_out += frames
                self._measure_lead()
            for seg in touched:
                seg._fire_marks()
            for seg in finished:
                seg.done.set()
        except BaseException as exc:  # the device thread must never die
            for seg in touched:
                seg._drop(exc)
        return bytes(out) + bytes(want - len(out))

    def _measure_lead(self) -> None:
        """(Under the lock, on the device's thread.) How far the frames written run ahead
        of real time since the device first asked for audio."""
        now = time.monotonic()
        taken = self._frames_out - self._last_frames  # by this callback
        self._last_frames = self._frames_out
        if self._started is None:
            self._started = now  # this device's first callback
            self._base_frames = self._frames_out - taken
            return
        # Frames this device took since its first callback, less what real time played.
        lead = self._frames_out - self._base_frames - (now - self._started) * self._rate
        if lead < 0:
            # Even with this callback's frames, less was written than real time has
            # consumed: the device ran dry for over a period before asking again (the
            # callback came late: the GIL, a busy machine), a dropout a listener hears.
            # It consumed only what had been written: measure from there.
            self.underruns += 1
            self._started = now - (self._frames_out - self._base_frames - taken) / self._rate
            lead = taken
        self._leads.append(lead)

    def _silence_now(self) -> None:
        with self._lock:
            self._last_end = None  # what plays after a stop does not join a seam

    def enqueue(self, seg: Segment) -> None:
        if seg.sample_rate != self._rate or self._device is None:
            self.prepare(seg.sample_rate)
        if seg.frames == 0:
            seg.end_frame = self._frames_out
            seg.done.set()
            return
        with self._lock:
            if not self._queue:
                self._last_progress = time.monotonic()
            self._queue.append(seg)

    def _drained(self, seg: Segment) -> bool:
        assert seg.end_frame is not None
        return self._frames_out >= seg.end_frame + self.latency_frames

    def _wait_idle(self) -> None:
        """Before reopening at another rate: let what is queued play out."""
        cancel = threading.Event()
        while True:
            with self._lock:
                last = self._queue[-1] if self._queue else None
            if last is None:
                return
            self.wait(last, cancel, drain=True)

    def _reset(self) -> None:
        # Closing a device whose server vanished may block: do it aside.
        device, self._device = self._device, None
        threading.Thread(
            target=_close_quietly, args=(device,), name="kuhu-audio-close", daemon=True
        ).start()

    def _close_device(self) -> None:
        device, self._device = self._device, None
        _close_quietly(device)

    def close(self) -> None:
        if self._paused:
            self.stop()  # held audio is never heard: closing does not wait for it
        with self._lock:
            last = self._queue[-1] if self._queue else None
        if last is not None and self._device is not None:
            with contextlib.suppress(AudioDeviceError):  # gone: nothing left to hear
                self.wait(last, threading.Event(), drain=True)
        with self._open_lock:
            self._close_device()
        _open_players.discard(self)


_owning_device: Any = None


def _owning_device_class(miniaudio: Any) -> Any:
    """miniaudio's ``PlaybackDevice``, made to release all it opens.

    Each ``PlaybackDevice`` makes a context of its own (on PulseAudio: one connection to
    the sound server, with a socket, pipes and eventfds), and its ``close()`` never
    uninitialises it; nor does a device whose opening failed. The server allows each
    client 64 connections: about 60 opens later, every open failed, and other programs
    on the desktop lost their sound too. miniaudio offers no public way to hand a device
    a context, so this subclass releases the one its base made (``_context``, set by the
    base's ``__init__``), once, when the device closes or fails to open."""
    global _owning_device
    if _owning_device is not None:
        return _owning_device
    lib = miniaudio.lib
    null = miniaudio.ffi.NULL

    class OwningPlaybackDevice(miniaudio.PlaybackDevice):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            self._context = null
            try:
                super().__init__(**kwargs)
            except BaseException:
                self._release_context()
                raise

        def close(self) -> None:
            super().close()  # the device first: it uses the context until uninit
            self._release_context()

        def _release_context(self) -> None:
            context, self._context = getattr(self, "_context", null), null
            if context is not null and context != null:
                lib.ma_context_uninit(context)

    _owning_device = OwningPlaybackDevice
    return _owning_device


def _close_quietly(device: Any) -> None:
    if device is not None:
        try:
            device.close()
        except Exception as exc:  # a vanished device may fail to close; it is gone anyway
            logger.debug("audio: closing the device failed: %s", exc)


def _device_name(device: Any) -> str:
    """The name the sound system gives the open device (miniaudio keeps it in its C
    struct only; any failure just means we cannot name it)."""
    try:
        from miniaudio import ffi

        return str(ffi.string(device._device.playback.name).decode()) or "default"
    except Exception:
        return "default"
