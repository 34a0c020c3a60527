"""``speak()``, ``stream()`` and ``save()``, for programs that are not pyttsx3 programs,
on the default session (``_session``): calls after the first keep the connection (and,
for ``speak()``, the device) that the first opened."""

from __future__ import annotations

import os
from collections.abc import Generator

from ._session import default_session


def speak(
    text: str,
    *,
    voice: str | None = None,
    rate: float | None = None,
    volume: float | None = None,
    pitch: float | None = None,
) -> None:
    """Speak ``text`` and return when it has been heard; raise :class:`KuhuError` on
    failure. Utterances never overlap: a call waits for one under way to end.

    Units are pyttsx3's: ``rate`` in words per minute (200 is normal), ``volume``
    0.0–1.0, ``pitch`` a multiplier; ``voice`` an id or a name such as ``"小婉"``.
    """
    default_session().speak(text, voice=voice, rate=rate, volume=volume, pitch=pitch)


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
