"""Plain data that every layer may import: what is asked of the API and what comes back.

``Voicing`` is how to speak, in the API's own units; ``Request`` is one checked request
(a text of at most 2000 billed characters with its voicing and format: its billed count
and its cache key worked out once, when it is made); ``Audio`` is what came back.
Checking happens where values enter (``api.build_request``, ``pipeline.Properties``);
these types only carry them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ._text import billed_chars

#: The sample rates the API produces.
SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
#: The formats the API produces; ``pcm`` is raw signed 16-bit little-endian mono.
FORMATS = ("mp3", "wav", "pcm")
#: File extension -> the format asked of the API when saving (WAV is written around PCM).
SAVE_FORMATS = {".wav": "pcm", ".mp3": "mp3", ".pcm": "pcm", ".raw": "pcm"}

#: The slowest speech we expect, in seconds per billed character at rate 1.0 (about five
#: times slower than any voice speaks), and a fixed allowance for leading silence.
_SECONDS_PER_BILLED = 0.6
_SECONDS_EXTRA = 3.0


@dataclass(frozen=True)
class Voicing:
    """How to speak, in the API's own units: ``volume`` 0-100, ``rate`` and ``pitch``
    multipliers 0.5-2, ``sample_rate`` one of :data:`SAMPLE_RATES`."""

    voice: str
    volume: int
    rate: float
    pitch: float
    sample_rate: int


@dataclass(frozen=True)
class Request:
    """Checked parameters of one synthesis request, in the API's own units."""

    text: str
    voicing: Voicing
    format: str
    #: Billed characters of ``text`` (the vendor's rule, ``_text.billed_chars``).
    billed: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "billed", billed_chars(self.text))

    def cache_key(self, endpoint: str) -> str:
        """The key of this request's answer at ``endpoint`` (the cache's and the
        synthesizer's: identical requests in flight are one)."""
        v = self.voicing
        canon = json.dumps(
            [endpoint, v.voice, self.text, self.format, v.sample_rate, v.volume, v.rate, v.pitch],
            ensure_ascii=False,
        )
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    @property
    def sample_rate(self) -> int:
        return self.voicing.sample_rate

    def answer_cap(self) -> int:
        """The most bytes an answer to this request can plausibly hold: the slowest speech
        for its billed characters at its rate, as 16-bit stereo at its sample rate, plus
        room for headers. A server streaming past it is not sending this text's audio."""
        return int(self.max_seconds() * self.sample_rate * 2 * 2) + 64 * 1024

    def max_seconds(self) -> float:
        """The longest audio this request's text can plausibly make."""
        return _SECONDS_EXTRA + _SECONDS_PER_BILLED * self.billed / self.voicing.rate

    def form(self) -> list[tuple[str, str]]:
        """The form fields, key excluded, in the order they are sent."""
        v = self.voicing
        return [
            ("text", self.text),
            ("voice", v.voice),
            ("format", self.format),
            ("sample_rate", str(v.sample_rate)),
            ("volume", str(v.volume)),
            ("rate", _num(v.rate)),
            ("pitch", _num(v.pitch)),
        ]


@dataclass(frozen=True)
class Audio:
    """Audio the API returned: ``data`` is raw PCM at ``sample_rate`` for format ``pcm``."""

    data: bytes
    format: str
    sample_rate: int


def _num(x: float) -> str:
    return f"{x:.1f}" if float(x).is_integer() else f"{round(x, 3)}"
