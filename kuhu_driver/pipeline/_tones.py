"""The values of markup, in the API's units: a :class:`Tone` (a change of rate, pitch,
volume or voice from markup), break lengths, and macOS's commands. Pure functions; each
raises ``ValueError`` with a message for the reader when a value cannot be read.

The scales, where other engines' units have no exact match in ours:

- SSML ``rate``: x-slow 0.5, slow 0.75, medium 1, fast 1.5, x-fast 2; ``150%`` and
  ``1.5`` are times the rate around it, ``+20%`` 1.2 times it.
- SSML ``pitch``: x-low 0.6, low 0.8, medium 1, high 1.25, x-high 1.6; ``+10%``,
  ``-2st`` (semitones) and ``+20Hz`` (on a 200 Hz voice) change the pitch around it.
- SSML ``volume``: silent 0, x-soft 0.25, soft 0.5, medium 1, loud 1.5, x-loud 2 times
  the volume around it; ``+6dB``; ``50%``; a bare ``0``-``100`` sets it.
- SAPI ``<rate speed=N>`` (-10..10): 3^(N/10) times the rate (10 is three times as fast);
  ``absspeed`` sets it. ``<pitch middle=N>``: 2^(N/10); ``absmiddle`` sets it.
  ``<volume level=N>`` (0-100): N % of the volume around it.
- macOS ``[[rate N]]``: N words a minute (200 is our 1.0); ``[[volm N]]``: 0.0-1.0;
  ``[[slnc N]]``: N ms of silence.
- Breaks: ``strength`` none 0, x-weak 100, weak 250, medium 500, strong 750, x-strong
  1000 ms; ``time`` in ``ms`` or ``s``; no break is longer than ``MAX_BREAK_MS``.

Whatever the markup asks, the API's bounds hold: rate and pitch 0.5-2, volume 0-100.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from .._model import Voicing
from ..api import resolve_voice_id

#: The longest break one element may ask for (its silence is made in memory).
MAX_BREAK_MS = 60_000

_RATE_WORDS = {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "fast": 1.5, "x-fast": 2.0}
_PITCH_WORDS = {"x-low": 0.6, "low": 0.8, "medium": 1.0, "high": 1.25, "x-high": 1.6}
_VOLUME_WORDS = {
    "silent": 0.0,
    "x-soft": 0.25,
    "soft": 0.5,
    "medium": 1.0,
    "loud": 1.5,
    "x-loud": 2.0,
}
_STRENGTHS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750, "x-strong": 1000}
_NUMBER = r"([+-]?\d+(?:\.\d+)?|[+-]?\.\d+)"


@dataclass(frozen=True)
class Tone:
    """A change of voicing: factors of the rate, pitch and volume around it, or values
    that set them (``set_*``, then the factors apply); a voice."""

    rate: float = 1.0
    pitch: float = 1.0
    volume: float = 1.0
    set_rate: float | None = None
    set_pitch: float | None = None
    set_volume: float | None = None  # 0-100
    voice: str | None = None

    def then(self, inner: Tone) -> Tone:
        """This change, and ``inner`` inside it."""
        return Tone(
            rate=inner.rate if inner.set_rate is not None else self.rate * inner.rate,
            pitch=inner.pitch if inner.set_pitch is not None else self.pitch * inner.pitch,
            volume=inner.volume if inner.set_volume is not None else self.volume * inner.volume,
            set_rate=inner.set_rate if inner.set_rate is not None else self.set_rate,
            set_pitch=inner.set_pitch if inner.set_pitch is not None else self.set_pitch,
            set_volume=inner.set_volume if inner.set_volume is not None else self.set_volume,
            voice=inner.voice or self.voice,
        )

    def apply(self, base: Voicing) -> Voicing:
        """``base`` with this change, within the API's bounds."""
        if self == Tone():
            return base
        rate = (self.set_rate if self.set_rate is not None else base.rate) * self.rate
        pitch = (self.set_pitch if self.set_pitch is not None else base.pitch) * self.pitch
        volume = (self.set_volume if self.set_volume is not None else base.volume) * self.volume
        return replace(
            base,
            voice=self.voice or base.voice,
            rate=round(min(max(rate, 0.5), 2.0), 3),
            pitch=round(min(max(pitch, 0.5), 2.0), 3),
            volume=round(min(max(volume, 0.0), 100.0)),
        )


def _number(text: str, what: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} {text!r} is not a number")
    return x


def _scaled(value: str, words: dict[str, float], what: str, units: dict[str, float]) -> float:
    """A factor from a keyword, a percentage, or a number with one of ``units`` (each
    unit's value: the factor of one step, e.g. a semitone)."""
    v = value.strip().lower()
    if v in words or v == "default":
        return words.get(v, 1.0)
    m = re.fullmatch(_NUMBER + r"\s*(%|[a-z]*)", v)
    if m is None:
        raise ValueError(f"{what}={value!r} is not a value this driver reads")
    n, unit = _number(m.group(1), what), m.group(2)
    if unit == "%":
        return 1 + n / 100 if m.group(1)[0] in "+-" else n / 100
    if unit == "" and "" in units:  # a bare number: times the value around it
        return n * units[""]
    if unit in units:
        return float(units[unit] ** n)
    raise ValueError(f"{what}={value!r}: the unit {unit or 'none'!r} is not read here")


def attribute_tone(name: str, attrs: dict[str, str]) -> Tone:
    """The change an element asks for: SSML's ``<prosody>`` and ``<voice>``, SAPI's
    ``<rate>``, ``<pitch>`` and ``<volume>``."""
    if name == "voice":
        if "name" not in attrs:
            raise ValueError("<voice> needs name= (one of kuhu-say --list-voices)")
        return Tone(voice=resolve_voice_id(attrs["name"]))
    if name == "prosody":
        tone = Tone()
        if "rate" in attrs:
            tone = replace(tone, rate=_scaled(attrs["rate"], _RATE_WORDS, "rate", {"": 1.0}))
        if "pitch" in attrs:
            p = attrs["pitch"].strip().lower()
            if p.endswith("hz"):
                n = _number(p[:-2], "pitch")
                tone = replace(tone, pitch=(1 + n / 200) if p[0] in "+-" else n / 200)
            else:  # a word, a percentage, or semitones
                units = {"st": 2 ** (1 / 12)}
                tone = replace(tone, pitch=_scaled(p, _PITCH_WORDS, "pitch", units))
        if "volume" in attrs:
            tone = _volume(tone, attrs["volume"])
        return _checked(tone)
    return _checked(_sapi(name, attrs))


def _volume(tone: Tone, value: str) -> Tone:
    v = value.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", v):  # SSML 1.0: 0-100 sets it
        level = _number(v, "volume")
        if level > 100:
            raise ValueError(f"volume={value!r}: from 0 to 100")
        return replace(tone, set_volume=level, volume=1.0)
    m = re.fullmatch(_NUMBER + r"\s*db", v)
    if m is not None:
        return replace(tone, volume=10 ** (_number(m.group(1), "volume") / 20))
    return replace(tone, volume=_scaled(v, _VOLUME_WORDS, "volume", {}))


def _sapi(name: str, attrs: dict[str, str]) -> Tone:
    keys = {"rate": ("speed", "absspeed"), "pitch": ("middle", "absmiddle"), "volume": ("level",)}
    given = [k for k in keys[name] if k in attrs]
    if not given:
        raise ValueError(f"<{name}> needs {' or '.join(k + '=' for k in keys[name])}")
    key = given[0]
    n = _number(attrs[key], key)
    if name == "volume":
        if not 0 <= n <= 100:
            raise ValueError(f"level={attrs[key]!r}: from 0 to 100")
        return Tone(volume=n / 100)
    if not -10 <= n <= 10:
        raise ValueError(f"{key}={attrs[key]!r}: from -10 to 10")
    factor = 3 ** (n / 10) if name == "rate" else 2 ** (n / 10)
    if key.startswith("abs"):
        return Tone(set_rate=factor) if name == "rate" else Tone(set_pitch=factor)
    return Tone(rate=factor) if name == "rate" else Tone(pitch=factor)


def _checked(tone: Tone) -> Tone:
    if min(tone.rate, tone.pitch) <= 0 or tone.volume < 0:
        raise ValueError("rate and pitch must stay above 0, volume at 0 or above")
    return tone


def break_ms(name: str, attrs: dict[str, str]) -> int:
    """The silence of SSML's ``<break>`` or SAPI's ``<silence msec=N>``, in ms."""
    if name == "silence":
        if "msec" not in attrs:
            raise ValueError("<silence> needs msec=")
        return _ms(_number(attrs["msec"], "msec"))
    if "time" in attrs:
        m = re.fullmatch(_NUMBER + r"\s*(ms|s)", attrs["time"].strip().lower())
        if m is None:
            raise ValueError(f"time={attrs['time']!r}: give it as 500ms or 1.5s")
        n = _number(m.group(1), "time")
        return _ms(n if m.group(2) == "ms" else n * 1000)
    strength = attrs.get("strength", "medium").strip().lower()
    if strength not in _STRENGTHS:
        raise ValueError(f"strength={strength!r}: one of {', '.join(_STRENGTHS)}")
    return _STRENGTHS[strength]


def _ms(n: float) -> int:
    if not 0 <= n <= MAX_BREAK_MS:
        raise ValueError(f"a break of {n:g} ms: from 0 to {MAX_BREAK_MS} ms")
    return round(n)


def mac_command(name: str, value: str) -> tuple[int | None, Tone | None]:
    """macOS's ``[[slnc N]]`` (a break), ``[[rate N]]`` and ``[[volm N]]`` (changes
    from there on): the break's ms, or the change."""
    n = _number(value, f"[[{name}]]")
    if name == "slnc":
        return _ms(n), None
    if name == "rate":
        if n <= 0:
            raise ValueError(f"[[rate {value}]]: words a minute above 0")
        return None, Tone(set_rate=n / 200)
    if not 0 <= n <= 1:
        raise ValueError(f"[[volm {value}]]: from 0.0 to 1.0")
    return None, Tone(set_volume=n * 100)
