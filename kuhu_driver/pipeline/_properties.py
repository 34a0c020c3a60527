"""pyttsx3's property values and their mapping onto the API's units."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypedDict

from .._model import SAMPLE_RATES, Voicing
from ..api import DEFAULT_VOICE, resolve_voice_id
from ..errors import InvalidInputError, UnknownPropertyError
from ._markup import markup_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

PROPERTY_NAMES = ("rate", "volume", "pitch", "voice", "voices", "sample_rate", "markup")


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
    #: How markup in the text is read: "auto", "ssml" or "off" (see ``_markup``).
    markup: str = "auto"

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
        if name == "markup":
            return replace(self, markup=markup_mode(value))
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


class VoiceArgs(TypedDict, total=False):
    """The voicing keywords every speaking call takes, in pyttsx3's units; ``None`` (or
    left out) means the default (the session's, for a :class:`Session`'s calls).

    ``voice`` an id or a name such as ``"小婉"``; ``rate`` words per minute (200 is
    normal); ``volume`` 0.0–1.0; ``pitch`` a multiplier; ``sample_rate`` one of the
    API's rates (22050 by default)."""

    voice: str | None
    rate: float | None
    volume: float | None
    pitch: float | None
    sample_rate: int | None


#: The keywords of :class:`VoiceArgs`, in the order they are applied.
VOICE_ARGS = ("voice", "rate", "volume", "pitch", "sample_rate")


def voicing_of(**args: Unpack[VoiceArgs]) -> Voicing:
    """The voicing for pyttsx3-unit arguments (left out or ``None``: the default)."""
    return with_given(Properties(), args).voicing()


def with_given(props: Properties, args: Mapping[str, object]) -> Properties:
    """``props`` with each of ``args`` that is not ``None`` set (pyttsx3's units); a
    keyword that is not one of :class:`VoiceArgs` is a ``TypeError``, as Python's own."""
    for name in args:
        if name not in VOICE_ARGS:
            raise TypeError(f"unexpected keyword argument {name!r}")
    for name in VOICE_ARGS:
        value = args.get(name)
        if value is not None:
            props = props.with_value(name, value)
    return props
