"""Playback: one output stream per engine, fed pieces as one continuous sample stream.

Backends sit behind the small :class:`Player` interface:

- :class:`MiniaudioPlayer` (the default): one miniaudio device, opened once and kept
  running while the player lives. Its callback takes the next samples from a queue of
  :class:`Segment`; a piece's first sample follows the previous piece's last with nothing
  added and nothing overlapped, and silence is written only when nothing is queued.
- :class:`SimpleaudioPlayer`: one simpleaudio stream per piece, each started only after
  the previous one has finished (a small gap, never an overlap). A stock simpleaudio
  1.0.4 on CPython 3.12+ is never loaded: it crashes the interpreter after each playback.

A segment's position (its word marks, its end) follows the frames the backend has taken
from it, not the wall clock. ``KUHU_AUDIO`` picks the backend (``make_player``).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

from .config import AUDIO_BACKENDS
from .errors import AudioDeviceError, ConfigError

__all__ = [
    "MiniaudioPlayer",
    "Player",
    "Segment",
    "SimpleaudioPlayer",
    "make_player",
]

logger = logging.getLogger(__name__)

#: A device that takes no audio for this long while some is queued has gone away.
STALL_SECONDS = 1.0
_NO_DEVICE_HINT = (
    "is there a sound card or a running sound server? Without one, write audio to a "
    "file instead: engine.save_to_file(text, 'out.wav') or kuhu-say --out out.wav"
)


class Segment:
    """Mono 16-bit PCM queued for playback, with word marks at frame offsets.

    ``on_mark(i)`` runs when the device has taken the audio up to ``marks[i]``; it runs
    on the backend's thread, so it must be quick (the driver only posts an event).
    ``done`` is set once every frame was taken, or when the segment was dropped
    (``stop()``, or a device failure in ``error``).
    """

    def __init__(
        self,
        pcm: bytes,
        sample_rate: int,
        marks: Sequence[int] = (),
        on_mark: Callable[[int], None] | None = None,
    ) -> None:
        self.pcm = pcm[: len(pcm) - len(pcm) % 2]
        self.sample_rate = sample_rate
        self.frames = len(self.pcm) // 2
        self.marks = list(marks)
        self.on_mark = on_mark
        self.pos = 0
        #: Output frame count of the stream just after this segment's last frame.
        self.end_frame: int | None = None
        self.done = threading.Event()
        self.dropped = False
        self.error: BaseException | None = None
        self._next_mark = 0
        self._mark_lock = threading.Lock()

    def _fire_marks(self, *, every: bool = False) -> None:
        """Fire, once each, the marks whose first sample was taken (``every``: all left)."""
        with self._mark_lock:
            while self._next_mark < len(self.marks) and (
                every or self.marks[self._next_mark] < self.pos or self.pos >= self.frames
            ):
                i = self._next_mark
                self._next_mark += 1
                if self.on_mark is not None:
                    try:
                        self.on_mark(i)
                    except BaseException as exc:  # handed to whoever waits on the segment
                        self.error = self.error or exc

    def _drop(self, error: BaseException | None = None) -> None:
        self.dropped = True
        if error is not None and self.error is None:
            self.error = error
        self.done.set()


class Player(Protocol):
    """One output stream: segments play in the order queued, back to back."""

    backend: str
    #: The output device, as the backend names it (known once ``prepare`` has run).
    device: str

    def prepare(self, sample_rate: int) -> None:
        """Open the device now (it stays open); raise :class:`AudioDeviceError`."""

    def enqueue(self, seg: Segment) -> None:
        """Queue ``seg`` after everything queued before it."""

    def wait(
        self, seg: Segment, cancel: threading.Event, *, drain: bool, lead: float = 0.0
    ) -> bool:
        """Wait until ``seg`` was taken (and, with ``drain``, heard), or until no more than
        ``lead`` seconds of it are left to take (its remaining marks then fire at once);
        False if cancelled or dropped. Raises :class:`AudioDeviceError` if the device
        fails or stalls."""

    def stop(self) -> None:
        """Silence everything now, from any thread; drop what is queued."""

    def close(self) -> None:
        """Let what was taken be heard, then release the device."""


class _StreamBase:
    """What both backends share: the queue, stop, and waiting with a stall watchdog."""

    device = "the system's default output"

    backend = ""
    #: Whether segments share one stream (so that a next one can be queued before the
    #: last ends); simpleaudio plays each on its own, after the last has finished.
    streams = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Segment] = deque()
        self._last_progress = time.monotonic()

    def stop(self) -> None:
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
        for seg in dropped:
            seg._drop()
        self._silence_now()

    def _silence_now(self) -> None:
        """Backend hook: cut what is playing at once."""

    def _stalled(self) -> bool:
        with self._lock:
            busy = bool(self._queue)
        return busy and time.monotonic() - self._last_progress > STALL_SECONDS

    def _fail(self, message: str) -> AudioDeviceError:
        """The device went away: drop everything queued with the error, reset."""
        exc = AudioDeviceError(message)
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
        for seg in dropped:
            seg._drop(exc)
        self._reset()
        return exc

    def _reset(self) -> None:
        """Backend hook: forget the device; the next ``prepare`` opens it again."""

    def _drained(self, seg: Segment) -> bool:
        return True

    def wait(
        self, seg: Segment, cancel: threading.Event, *, drain: bool, lead: float = 0.0
    ) -> bool:
        early = int(lead * seg.sample_rate) if self.streams else 0
        try:
            while not seg.done.wait(0.002):
                if early and seg.frames - seg.pos <= early and not seg.dropped:
                    seg._fire_marks(every=True)  # in order: before the utterance's end
                    return True
                if cancel.is_set():
                    self.stop()
                    return False
                if self._stalled():
                    raise self._fail(
                        f"the audio device stopped taking audio ({self.backend}): was it "
                        "unplugged, or did the sound server restart?"
                    )
            if seg.error is not None:
                raise seg.error
            if seg.dropped:
                return False
            while drain and not self._drained(seg):
                if cancel.wait(0.002):
                    self.stop()
                    return False
                if self._stalled_draining():
                    break  # what was taken cannot be heard any more; nothing to wait for
            return True
        except BaseException:
            self.stop()  # Ctrl-C or a failure: never leave sound playing
            raise

    def _stalled_draining(self) -> bool:
        return time.monotonic() - self._last_progress > STALL_SECONDS


# -- miniaudio ------------------------------------------------------------------------

_open_players: weakref.WeakSet[MiniaudioPlayer] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A device thread calling into Python while the interpreter shuts down is unsafe:
    # close every device first (atexit runs before finalization).
    for player in list(_open_players):
        player.close()


class MiniaudioPlayer(_StreamBase):
    """The default backend: one miniaudio device whose callback streams the queue.

    Periods of 20 ms, three of them: the callback runs every 20 ms, and up to 60 ms of
    audio sits ahead of what is heard; that is how early a segment counts as taken.
    A ``stop()`` empties the queue; what the sound server holds (measured: about 15 ms
    on PulseAudio) still plays.
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
        self._open_lock = threading.Lock()

    @property
    def latency_frames(self) -> int:
        return self._rate * self.PERIOD_MS * self.PERIODS // 1000

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
            device = miniaudio.PlaybackDevice(
                output_format=miniaudio.SampleFormat.SIGNED16,
                nchannels=1,
                sample_rate=rate,
                buffersize_msec=self.PERIOD_MS,
                callback_periods=self.PERIODS,
                backends=backends,
                app_name="kuhu_driver",
            )
        except Exception as exc:  # miniaudio raises MiniaudioError and others
            raise AudioDeviceError(
                f"could not open the audio device ({exc}): {_NO_DEVICE_HINT}"
            ) from None
        self._rate = rate
        self._last_progress = time.monotonic()
        try:
            device.start(gen)
        except Exception as exc:
            device.close()
            raise AudioDeviceError(
                f"could not start the audio device ({exc}): {_NO_DEVICE_HINT}"
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
                while len(out) < want and self._queue:
                    seg = self._queue[0]
                    start = seg.pos * 2
                    chunk = seg.pcm[start : start + want - len(out)]
                    out += chunk
                    seg.pos += len(chunk) // 2
                    touched.append(seg)
                    if seg.pos >= seg.frames:
                        self._queue.popleft()
                        seg.end_frame = self._frames_out + len(out) // 2
                        finished.append(seg)
                self._frames_out += frames
            for seg in touched:
                seg._fire_marks()
            for seg in finished:
                seg.done.set()
        except BaseException as exc:  # the device thread must never die
            for seg in touched:
                seg._drop(exc)
        return bytes(out) + bytes(want - len(out))

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
        with self._lock:
            last = self._queue[-1] if self._queue else None
        if last is not None and self._device is not None:
            with contextlib.suppress(AudioDeviceError):  # gone: nothing left to hear
                self.wait(last, threading.Event(), drain=True)
        with self._open_lock:
            self._close_device()
        _open_players.discard(self)


def _close_quietly(device: Any) -> None:
    if device is not None:
        try:
            device.close()
        except Exception as exc:  # a vanished device may fail to close; it is gone anyway
            logger.debug("audio: closing the device failed: %s", exc)


# -- simpleaudio ----------------------------------------------------------------------


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


class SimpleaudioPlayer(_StreamBase):
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
        if seg.frames == 0:
            return
        # ALSA's PulseAudio plugin drops the first few milliseconds of every new stream
        # (measured: 7 ms each): lead with silence so that the speech is heard whole.
        lead = seg.sample_rate * self.LEAD_MS // 1000
        try:
            handle = self._module.play_buffer(bytes(2 * lead) + seg.pcm, 1, 2, seg.sample_rate)
        except Exception as exc:  # simpleaudio raises its own SimpleaudioError
            raise AudioDeviceError(
                f"could not open the audio device ({exc}): {_NO_DEVICE_HINT}"
            ) from None
        self._handle = handle
        start = time.monotonic() + lead / seg.sample_rate
        try:
            while handle.is_playing():
                if seg.dropped:
                    handle.stop()
                    return
                elapsed = max(0.0, time.monotonic() - start)
                seg.pos = min(seg.frames, int(elapsed * seg.sample_rate))
                self._last_progress = time.monotonic()
                seg._fire_marks()
                time.sleep(0.001)
        finally:
            self._handle = None
        seg.pos = seg.frames
        seg._fire_marks()

    def close(self) -> None:
        with self._lock:
            last = self._queue[-1] if self._queue else None
        if last is not None:
            self.wait(last, threading.Event(), drain=True)


def _device_name(device: Any) -> str:
    """The name the sound system gives the open device (miniaudio keeps it in its C
    struct only; any failure just means we cannot name it)."""
    try:
        from miniaudio import ffi

        return str(ffi.string(device._device.playback.name).decode()) or "default"
    except Exception:
        return "default"


def make_player(backend: str = "auto") -> Player:
    """The player for ``backend`` (``KUHU_AUDIO``): miniaudio by default, simpleaudio when
    asked or when miniaudio is not installed."""
    name = backend.strip().lower() or "auto"
    if name not in AUDIO_BACKENDS:
        raise ConfigError(f"KUHU_AUDIO must be one of {', '.join(AUDIO_BACKENDS)}, not {backend!r}")
    if name == "auto":
        if importlib.util.find_spec("miniaudio") is not None:
            return MiniaudioPlayer()
        logger.info("audio: miniaudio is not installed; using simpleaudio")
        return SimpleaudioPlayer()
    return MiniaudioPlayer() if name == "miniaudio" else SimpleaudioPlayer()
