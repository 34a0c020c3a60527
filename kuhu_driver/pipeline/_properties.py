"""pyttsx3's property values and their mapping onto the API's units."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .._model import SAMPLE_RATES, Voicing
from ..api import DEFAULT_VOICE, resolve_voice_id
from ..errors import InvalidInputError, UnknownPropertyError

PROPERTY_NAMES = ("rate", "volume", "pitch", "voice", "voices", "sample_rate")


def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{name} must be a number, not {type(value).__name__} {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an int too large for a float: as good as infinite
        x = math.inf if value > 0 else -math.inf
    if math.isnan(x):
        raise InvalidInputError(f"{name} must be a number, not NaN")
    return x


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


@dataclass(frozen=True)
class Properties:
    """pyttsx3 units: ``rate`` words per minute, ``volume`` 0.0–1.0, ``pitch`` a multiplier."""

    rate: int = 200
    volume: float = 0.5
    pitch: float = 1.0
    voice: str = DEFAULT_VOICE.id
    sample_rate: int = 22050

    def with_value(self, name: str, value: object) -> Properties:
        """A copy with one property set; out-of-range numbers are clipped, as pyttsx3 says."""
        if name == "rate":
            # The API's rate is a multiplier 0.5–2; 200 wpm is its 1.0.
            return replace(self, rate=round(_clip(_real(name, value), 100, 400)))
        if name == "volume":
            return replace(self, volume=_clip(_real(name, value), 0.0, 1.0))
        if name == "pitch":
            return replace(self, pitch=_clip(_real(name, value), 0.5, 2.0))
        if name == "voice":
            value = getattr(value, "id", value)  # a pyttsx3 Voice object works too
            if not isinstance(value, str):
                raise InvalidInputError(f"voice must be a voice id or name, not {value!r}")
            try:
                return replace(self, voice=resolve_voice_id(value))
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from None
        if name == "sample_rate":
            if isinstance(value, bool) or not isinstance(value, int) or value not in SAMPLE_RATES:
                raise InvalidInputError(
                    f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}, not {value!r}"
                )
            return replace(self, sample_rate=value)
        if name == "voices":
            raise InvalidInputError("voices is read-only: set 'voice' to one of them")
        raise UnknownPropertyError(
            f"unknown property {name!r}: the kuhu driver has {', '.join(PROPERTY_NAMES)}"
        )

    def voicing(self) -> Voicing:
        return Voicing(
            voice=self.voice,
            volume=round(self.volume * 100),
            rate=self.rate / 200,
            pitch=self.pitch,
            sample_rate=self.sample_rate,
        )


def voicing_of(
    voice: str | None,
    rate: float | None,
    volume: float | None,
    pitch: float | None,
    sample_rate: int | None = None,
) -> Voicing:
    """The voicing for pyttsx3-unit arguments (``None``: the default)."""
    return with_given(Properties(), voice, rate, volume, pitch, sample_rate).voicing()


def with_given(
    props: Properties,
    voice: str | None,
    rate: float | None,
    volume: float | None,
    pitch: float | None,
    sample_rate: int | None = None,
) -> Properties:
    """``props`` with each argument that is not ``None`` set (pyttsx3's units)."""
    given = (("voice", voice), ("rate", rate), ("volume", volume), ("pitch", pitch))
    for name, value in (*given, ("sample_rate", sample_rate)):
        if value is not None:
            props = props.with_value(name, value)
    return props
