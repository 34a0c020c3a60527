"""Speech for programs that are not pyttsx3 programs: ``stream()`` (PCM as it arrives),
``save()`` (a file, with subtitles if asked) and the :class:`Speech` handle under them
and under the asyncio faces (``_aio``): one pipeline, stoppable from any thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from .._model import Voicing
from ..audio import Player, convert_pcm
from ..errors import CancelledError
from ._cues import subtitle_format
from ._job import Job, start_job
from ._save import check_destination, save_text

if TYPE_CHECKING:
    from ._session import Session

#: Seconds of audio ``stream()`` fetches ahead of its consumer, beyond the next piece:
#: a slow consumer holds about two pieces, not six (one long piece is 7 MB at 22 kHz).
STREAM_AHEAD = 30.0


class Speech:
    """One text spoken, streamed or saved with a session's synthesizer and device, and
    a ``stop()`` that any thread may call: it cancels the requests not yet answered and
    silences the device. Used once."""

    def __init__(self, text: str, voicing: Voicing, session: Session) -> None:
        self.text = text
        self.voicing = voicing
        self.session = session
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._job: Job | None = None
        self._stop_sound: Callable[[], None] | None = None

    def stop(self) -> None:
        """End now: nothing new is requested, playback is silenced."""
        self._stopped.set()
        with self._lock:
            job, silence = self._job, self._stop_sound
        if job is not None:
            job.cancel()
        if silence is not None:
            silence()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def _adopt(self, job: Job) -> Job:
        with self._lock:
            self._job = job
        if self._stopped.is_set():
            job.cancel()
        return job

    def _check(self) -> None:
        if self._stopped.is_set():
            raise CancelledError("stopped")

    def pcm(self) -> Generator[bytes, None, None]:
        """16-bit mono PCM at the voicing's sample rate, a piece at a time as it arrives;
        a piece the local voice spoke is resampled to that rate."""
        self._check()
        rate = self.voicing.sample_rate
        synth = self.session.synthesizer
        synth.warm_up(now=True)
        job = self._adopt(
            start_job(synth, self.text, self.voicing, fallback=True, ahead_seconds=STREAM_AHEAD)
        )
        try:
            for piece in job:
                audio = piece.audio
                yield convert_pcm(audio.data, channels=1, from_rate=audio.sample_rate, to_rate=rate)
        finally:
            job.cancel()  # closed early: nothing more is asked for
        self._check()

    def play(self) -> None:
        """Speak to the end (the device opened first: without one nothing is billed)."""
        self._check()
        if not self.session.speak_voiced(
            self.text, self.voicing, self._stopped, on_job=self._playing
        ):
            raise CancelledError("stopped")

    def _playing(self, job: Job, player: Player) -> None:
        with self._lock:
            self._stop_sound = player.stop
        self._adopt(job)

    def save(self, path: str | os.PathLike[str], subtitles: str | os.PathLike[str] | None) -> None:
        """Write the file (format by extension) and, if asked, its subtitles."""
        self._check()
        out = check_destination(path)  # before anything is billed
        sub = None
        if subtitles is not None:
            subtitle_format(subtitles)
            sub = check_destination(subtitles)
        synth = self.session.synthesizer
        synth.warm_up(now=True)
        if not save_text(
            synth,
            self.text,
            self.voicing,
            out,
            subtitles=sub,
            fallback=self.session.settings.fallback == "always",
            on_job=self._adopted,
        ):
            raise CancelledError("stopped")

    def _adopted(self, job: Job) -> None:
        self._adopt(job)


def stream(
    text: str,
    *,
    voice: str | None = None,
    rate: float | None = None,
    volume: float | None = None,
    pitch: float | None = None,
    sample_rate: int | None = None,
) -> Generator[bytes, None, None]:
    """``text`` as 16-bit mono PCM at ``sample_rate``, each chunk yielded as soon as it
    has arrived, in order; the same chunking, cache, retries and local voice as
    speaking. Units are pyttsx3's (see :func:`speak`). Closing the iterator early
    (``break``, ``.close()``) stops fetching: nothing new is requested after it. Uses
    the default session (see :class:`Session`)."""
    from ._session import default_session

    return default_session().stream(
        text, voice=voice, rate=rate, volume=volume, pitch=pitch, sample_rate=sample_rate
    )


def save(
    text: str,
    path: str | os.PathLike[str],
    *,
    voice: str | None = None,
    rate: float | None = None,
    volume: float | None = None,
    pitch: float | None = None,
    sample_rate: int | None = None,
    subtitles: str | os.PathLike[str] | None = None,
) -> None:
    """Save ``text`` to ``path`` (``.wav``, ``.mp3`` or ``.pcm``, by extension), and with
    ``subtitles`` (``.srt`` or ``.vtt``) its subtitles, each cue timed to the sample of
    the written file. Long saves resume after a crash, as ``save_to_file`` does. Uses
    the default session (see :class:`Session`)."""
    from ._session import default_session

    default_session().save(
        text,
        path,
        voice=voice,
        rate=rate,
        volume=volume,
        pitch=pitch,
        sample_rate=sample_rate,
        subtitles=subtitles,
    )
