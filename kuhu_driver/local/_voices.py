"""Which platform voice speaks Chinese text (in the local voice's helper process).

pyttsx3 lists the platform's voices; a Mandarin voice (zh-CN) is preferred to one for
Taiwan or Singapore, and a Cantonese voice (zh-HK) is the last resort, since it reads
the same characters in another language. pyttsx3 2.99 on Windows cannot list voices at
all when one of them reports a language such as ``409;9`` (NaturalVoiceSAPIAdapter
does): the SAPI voice tokens are then read directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._pyttsx3 import engine_driver

#: Windows language ids (LCID, hex as SAPI reports them) of the Chinese locales.
_LCIDS = {"804": "zh-CN", "1004": "zh-SG", "404": "zh-TW", "c04": "zh-HK", "1404": "zh-MO"}

#: Marks in a voice's id, name or languages, best first: Mandarin for the mainland, then
#: any Chinese, then Taiwan and Singapore, and Cantonese last.
_RANKS = (
    ("zh-cn", "zh_cn", "cmn", "mandarin", "simplified", "chinese (china)"),
    ("zh", "chinese"),
    ("zh-tw", "zh_tw", "zh-sg", "zh_sg", "taiwan", "singapore", "traditional"),
    ("zh-hk", "zh_hk", "zh-mo", "zh_mo", "yue", "cantonese", "hong kong", "hongkong"),
)


@dataclass(frozen=True)
class PlatformVoice:
    """A voice as the platform lists it."""

    id: str
    name: str
    languages: tuple[str, ...]

    def label(self) -> str:
        return f"{self.id} {self.name} {' '.join(self.languages)}".lower()


def chinese_rank(voice: PlatformVoice) -> int | None:
    """How well ``voice`` fits Mandarin text (0 is best); None if it is not Chinese."""
    label = voice.label()
    found = {rank for rank, marks in enumerate(_RANKS) if any(m in label for m in marks)}
    # A specific mark outweighs the generic "zh"/"Chinese" a name also carries, and
    # Cantonese outweighs all ("Chinese (Traditional, Hong Kong)").
    for rank in (3, 0, 2, 1):
        if rank in found:
            return rank
    return None


def best_chinese(voices: list[PlatformVoice]) -> PlatformVoice | None:
    """The best Chinese voice of ``voices`` (the first of the best rank), if any."""
    ranked = [(rank, i) for i, v in enumerate(voices) if (rank := chinese_rank(v)) is not None]
    return voices[min(ranked)[1]] if ranked else None


def listed_voices(engine: Any) -> list[PlatformVoice] | None:
    """The platform's voices, through pyttsx3 or else SAPI's own tokens; None if neither
    can list them."""
    try:
        raw = list(engine.getProperty("voices") or [])
    except Exception:
        return sapi_voices(engine)
    return [
        PlatformVoice(
            str(v.id),
            str(getattr(v, "name", "") or ""),
            tuple(
                lang.decode("latin-1") if isinstance(lang, bytes) else str(lang)
                for lang in (getattr(v, "languages", None) or [])
            ),
        )
        for v in raw
    ]


def sapi_voices(engine: Any) -> list[PlatformVoice] | None:
    """The voice tokens of pyttsx3's SAPI5 driver (its ``_tts`` SpVoice), each with its
    languages: SAPI's ``Language`` attribute is LCIDs in hex, ``;``-separated."""
    tts = getattr(engine_driver(engine), "_tts", None)
    if tts is None:
        return None
    try:
        voices = []
        for token in tts.GetVoices():
            lcids = str(token.GetAttribute("Language") or "").lower().split(";")
            langs = tuple(_LCIDS.get(x.strip().lstrip("0") or "0", x.strip()) for x in lcids)
            voices.append(PlatformVoice(str(token.Id), str(token.GetDescription()), langs))
    except Exception:
        return None
    return voices
