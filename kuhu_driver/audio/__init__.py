"""Sound: codecs (WAV, MP3, AIFF), playback behind one :class:`Player` interface, and
the platform's local voice.

Layer: uses only the leaves (``_config``, ``_text``, ``errors``); used by ``api`` (the
codecs, to recognise answers) and by ``pipeline``.
"""

from __future__ import annotations

from ._backends import make_player
from ._codec import (
    Wav,
    convert_pcm,
    decode_mp3,
    looks_like_mp3,
    mp3_frames,
    parse_wav,
    read_sound_file,
    strip_id3,
    wav_header,
)
from ._player import STALL_SECONDS, Player, Segment

__all__ = [
    "STALL_SECONDS",
    "Player",
    "Segment",
    "Wav",
    "convert_pcm",
    "decode_mp3",
    "looks_like_mp3",
    "make_player",
    "mp3_frames",
    "parse_wav",
    "read_sound_file",
    "strip_id3",
    "wav_header",
]
