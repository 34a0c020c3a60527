"""``speak()``, ``stream()`` and ``save()``, for programs that are not pyttsx3 programs,
on the default session (``_session``): calls after the first keep the connection (and,
for ``speak()``, the device) that the first opened. Each takes the voicing keywords of
:class:`VoiceArgs` (``voice``, ``rate``, ``volume``, ``pitch``, ``sample_rate``)."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING

from ._session import default_session

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._properties import VoiceArgs


def speak(text: str, *, markup: str | None = None, **voicing: Unpack[VoiceArgs]) -> None:
    """Speak ``text`` and return when it has been heard; raise :class:`KuhuError` on
    failure. Utterances never overlap: a call waits for one under way to end.

    Units are pyttsx3's: ``rate`` in words per minute (200 is normal), ``volume``
    0.0–1.0, ``pitch`` a multiplier; ``voice`` an id or a name such as ``"小婉"``.
    ``markup``: ``"auto"`` (the default: SSML, SAPI or macOS markup in the text is
    obeyed), ``"ssml"`` (the text is markup) or ``"off"`` (sent as it is).
    """
    default_session().speak(text, markup=markup, **voicing)


def stream(
    text: str, *, markup: str | None = None, **voicing: Unpack[VoiceArgs]
) -> Generator[bytes, None, None]:
    """``text`` as 16-bit mono PCM at ``sample_rate``, each chunk yielded as soon as it
    has arrived, in order; the same chunking, cache, retries and local voice as
    speaking. Units are pyttsx3's (see :func:`speak`). Closing the iterator early
    (``break``, ``.close()``) stops fetching: nothing new is requested after it. Uses
    the default session (see :class:`Session`)."""
    return default_session().stream(text, markup=markup, **voicing)


def save(
    text: str,
    path: str | os.PathLike[str],
    *,
    subtitles: str | os.PathLike[str] | None = None,
    markup: str | None = None,
    **voicing: Unpack[VoiceArgs],
) -> None:
    """Save ``text`` to ``path`` (``.wav``, ``.mp3`` or ``.pcm``, by extension), and with
    ``subtitles`` (``.srt`` or ``.vtt``) its subtitles, each cue timed to the sample of
    the written file. Long saves resume after a crash, as ``save_to_file`` does. Uses
    the default session (see :class:`Session`)."""
    default_session().save(text, path, subtitles=subtitles, markup=markup, **voicing)
