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

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import AudioDeviceError

logger = logging.getLogger(__name__)

#: A device that takes no audio for this long while some is queued has gone away.
STALL_SECONDS = 1.0
NO_DEVICE_HINT = (
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

    def preload(self) -> None:
        """Load the backend's library (on any thread, ahead of need), opening no device,
        printing nothing and never raising: the first ``prepare`` is then quicker."""

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
        """Silence everything now, from any thread; drop what is queued (and end a
        pause: what is queued next plays)."""

    def pause(self) -> None:
        """Hold the stream where it is, from any thread: silence from the next period,
        the position kept; what is queued waits. Nothing is dropped."""

    def resume(self) -> None:
        """Go on from the sample where ``pause`` held the stream."""

    @property
    def paused(self) -> bool:
        """Whether the stream is held by ``pause``."""

    def close(self) -> None:
        """Let what was taken be heard, then release the device."""


class StreamBase:
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
        self._paused = False

    def preload(self) -> None:
        """Nothing to load ahead (a backend with a library to import says otherwise)."""

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._held(True)

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._last_progress = time.monotonic()  # a pause is not a stalled device
        self._held(False)

    def _held(self, paused: bool) -> None:
        """Backend hook: the stream was paused or resumed."""

    def stop(self) -> None:
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
            self._paused = False
        for seg in dropped:
            seg._drop()
        self._silence_now()

    def _silence_now(self) -> None:
        """Backend hook: cut what is playing at once."""

    def _stalled(self) -> bool:
        with self._lock:
            busy = bool(self._queue) and not self._paused
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
        return not self._paused and time.monotonic() - self._last_progress > STALL_SECONDS
