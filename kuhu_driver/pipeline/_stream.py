"""The :class:`Speech` handle: one text spoken, streamed (PCM as it arrives) or saved
(a file, with subtitles if asked) on a session's synthesizer and device, stoppable from
any thread. Under ``speak()``/``stream()``/``save()`` (``_speak``), a ``Session``'s
calls, and the asyncio faces (``_aio``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Generator
from typing import Protocol

from .._cancel import CancelToken
from .._model import Voicing
from ..audio import Player, convert_pcm
from ..errors import StoppedError
from ._cues import subtitle_format
from ._job import Job, start_job
from ._save import check_destination, save_text
from ._synth import Synthesizer

#: Told of the job of a :class:`Speech` and the player it plays on, once both exist.
OnJob = Callable[[Job, Player], None]


class Speaker(Protocol):
    """How a :class:`Speech` is heard: its session's ``speak_voiced``."""

    def __call__(
        self,
        text: str,
        voicing: Voicing,
        cancel: CancelToken,
        *,
        on_job: OnJob,
        markup: str,
        on_mark: Callable[[str], None] | None,
    ) -> bool: ...


#: Seconds of audio ``stream()`` fetches ahead of its consumer, beyond the next piece:
#: a slow consumer holds about two pieces, not six (one long piece is 7 MB at 22 kHz).
STREAM_AHEAD = 30.0


class Speech:
    """One text spoken, streamed or saved with a session's synthesizer and device (its
    ``speaker``), and a ``stop()`` that any thread may call: it cancels the requests not
    yet answered and silences the device. Used once; made by ``Session.speech``."""

    def __init__(
        self,
        text: str,
        voicing: Voicing,
        synthesizer: Synthesizer,
        speaker: Speaker,
        *,
        fallback_always: bool = False,
        markup: str = "auto",
        on_mark: Callable[[str], None] | None = None,
    ) -> None:
        self.text = text
        self.voicing = voicing
        #: How markup in the text is read (see ``_markup``), and who hears its marks.
        self.markup = markup
        self.on_mark = on_mark
        self._synth = synthesizer
        self._speaker = speaker
        self._fallback_always = fallback_always  # a save uses the local voice at once
        self._lock = threading.Lock()
        #: Set by ``stop()``: the requests of this speech carry it (see ``_cancel``).
        self.stop_token = CancelToken()
        self._job: Job | None = None
        self._stop_sound: Callable[[], None] | None = None

    def stop(self) -> None:
        """End now: nothing new is requested, playback is silenced."""
        self.stop_token.set()
        with self._lock:
            job, silence = self._job, self._stop_sound
        if job is not None:
            job.cancel()
        if silence is not None:
            silence()

    @property
    def stopped(self) -> bool:
        return self.stop_token.is_set()

    def _adopt(self, job: Job) -> Job:
        with self._lock:
            self._job = job
        if self.stop_token.is_set():
            job.cancel()
        return job

    def _check(self) -> None:
        if self.stop_token.is_set():
            raise StoppedError("stopped")

    def pcm(self) -> Generator[bytes, None, None]:
        """16-bit mono PCM at the voicing's sample rate, a piece at a time as it arrives;
        a piece the local voice spoke is resampled to that rate."""
        self._check()
        rate = self.voicing.sample_rate
        synth = self._synth
        synth.warm_up(now=True)
        job = self._adopt(
            start_job(
                synth,
                self.text,
                self.voicing,
                fallback=True,
                ahead_seconds=STREAM_AHEAD,
                markup=self.markup,
            )
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
        if not self._speaker(
            self.text,
            self.voicing,
            self.stop_token,
            on_job=self._playing,
            markup=self.markup,
            on_mark=self.on_mark,
        ):
            raise StoppedError("stopped")

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
        synth = self._synth
        synth.warm_up(now=True)
        if not save_text(
            synth,
            self.text,
            self.voicing,
            out,
            subtitles=sub,
            fallback=self._fallback_always,
            on_job=self._adopted,
            markup=self.markup,
        ):
            raise StoppedError("stopped")

    def _adopted(self, job: Job) -> None:
        self._adopt(job)
