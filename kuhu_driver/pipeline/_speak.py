"""``speak()``: one text spoken to the end, for programs that are not pyttsx3 programs,
on the default session (``_session``): calls after the first keep the connection and
the device that the first opened."""

from __future__ import annotations

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
