"""Speaking one text to the end, for programs that are not pyttsx3 programs:
``speak()``, and ``speak_text()`` under it (which ``kuhu-say`` uses too)."""

from __future__ import annotations

from collections.abc import Callable

from .._config import Settings, speech_settings
from .._model import Voicing
from .._text import clean_text
from ..audio import Player, make_player
from ..errors import CloudFallback
from ._job import Job, start_job
from ._play import play_job
from ._properties import voicing_of
from ._synth import Synthesizer


def speak(
    text: str,
    *,
    voice: str | None = None,
    rate: float | None = None,
    volume: float | None = None,
    pitch: float | None = None,
) -> None:
    """Speak ``text`` and return when it has been spoken; raise :class:`KuhuError` on failure.

    Units are pyttsx3's: ``rate`` in words per minute (200 is normal), ``volume``
    0.0–1.0, ``pitch`` a multiplier; ``voice`` an id or a name such as ``"小婉"``.
    """
    speak_text(speech_settings(), text, voicing_of(voice, rate, volume, pitch))


def speak_text(
    settings: Settings,
    text: str,
    voicing: Voicing,
    *,
    on_fallback: Callable[[CloudFallback], None] | None = None,
    progress: Callable[[int], Callable[[int], None] | None] | None = None,
    on_job: Callable[[Job, Player], None] | None = None,
) -> bool:
    """Speak ``text`` with ``voicing``; True when all of it was heard.

    The device is opened first: without one, nothing is sent (or billed). The connection
    is opened meanwhile (no HTTP on it until then).
    ``progress(pieces)`` may return a callback that hears of each piece played;
    ``on_job(job, player)`` hears of the job once it starts (to stop it from elsewhere)."""
    clean_text(text)  # text that cannot be spoken opens nothing
    player = make_player(settings.audio)
    try:
        with Synthesizer.from_settings(settings) as synth:
            synth.open_ahead()
            player.prepare(voicing.sample_rate)
            job = start_job(synth, text, voicing, fallback=True)
            job.on_fallback = on_fallback
            if on_job is not None:
                on_job(job, player)
            try:
                on_piece = progress(len(job.spans)) if progress is not None else None
                return play_job(job, player, on_piece=on_piece)
            finally:
                job.cancel()
    finally:
        player.close()
