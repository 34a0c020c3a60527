"""What Speech Dispatcher's settings mean here: SET's -100..100 scales in the API's units,
the voice a language or a voice type picks, the voice list, and the words for keys.

- ``rate`` and ``pitch``: 2^(v/100) times normal, so -100..100 is the API's 0.5..2.
- ``volume``: the server plays at a fixed level, so the module sets it: -100..100 is the
  API's volume 0..100 (the server's default, 100, is the API's full volume).
- ``synthesis_voice`` (a name or an id of ours) wins; else ``voice``: ``male1`` (the
  server's default) is our default voice; ``female2``, ``child_male``… pick among the
  voices of ``language`` with that gender and age, in the order of ``kuhu-say
  --list-voices``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from .._model import Voicing
from ..api import DEFAULT_VOICE, VOICES, Voice, find_voice

logger = logging.getLogger(__name__)

#: The rate every message is asked for (the server resamples to its device).
SAMPLE_RATE = 22050


@dataclass(frozen=True)
class SpeechdSettings:
    """The settings of the messages to come, as SET gave them."""

    rate: int = 0
    pitch: int = 0
    volume: int = 100
    voice_type: str = "male1"
    language: str = "zh"
    synthesis_voice: str | None = None
    spelling: bool = False
    punctuation: str = "some"

    def updated(self, lines: list[str]) -> SpeechdSettings:
        """These settings with SET's ``key=value`` lines (unknown keys and bad values
        are logged and left as they were: a screen reader must never be refused)."""
        s = self
        for line in lines:
            key, _, value = line.partition("=")
            value = value.strip()
            try:
                s = _one(s, key.strip(), value)
            except ValueError:
                logger.info("SET %s=%r not understood; kept %s", key, value, key)
        return s

    def voicing(self) -> Voicing:
        return Voicing(
            voice=self.voice().id,
            volume=round((_scale(self.volume) + 100) / 2),
            rate=round(2 ** (_scale(self.rate) / 100), 3),
            pitch=round(2 ** (_scale(self.pitch) / 100), 3),
            sample_rate=SAMPLE_RATE,
        )

    def voice(self) -> Voice:
        if self.synthesis_voice:
            try:
                chosen = find_voice(self.synthesis_voice)
            except ValueError:
                chosen = None
            if chosen is not None:
                return chosen
        return voice_for(self.language, self.voice_type)


def _scale(v: int) -> int:
    return max(-100, min(100, v))


def _one(s: SpeechdSettings, key: str, value: str) -> SpeechdSettings:
    if key == "rate":
        return replace(s, rate=int(value))
    if key == "pitch":
        return replace(s, pitch=int(value))
    if key == "volume":
        return replace(s, volume=int(value))
    if key == "voice":
        return replace(s, voice_type=value.lower())
    if key == "language":
        return replace(s, language=value.lower() if value != "NULL" else "zh")
    if key == "synthesis_voice":
        return replace(s, synthesis_voice=None if value == "NULL" else value)
    if key == "spelling_mode":
        return replace(s, spelling=value == "on")
    if key == "punctuation_mode":
        return replace(s, punctuation=value)
    return s  # pitch_range, cap_let_recogn...: the server's business, or none of ours


def voice_for(language: str, voice_type: str) -> Voice:
    """The voice a language and a voice type (``male1``, ``child_female``…) pick:
    ``male1``, the server's default type, is our default voice (小淳, who speaks both
    languages); the others are the voices of that gender and age, in turn."""
    english = language.startswith("en")
    speaks = [v for v in VOICES if not english or "en-US" in v.languages]
    kind = voice_type.lower()
    if kind in ("male1", "", "null"):
        return DEFAULT_VOICE
    gender = "female" if "female" in kind else "male" if "male" in kind else None
    child = kind.startswith("child")
    fitting = [
        v
        for v in speaks
        if (gender is None or v.gender == gender) and ((v.age == "child") == child)
    ]
    if not fitting:
        return DEFAULT_VOICE if DEFAULT_VOICE in speaks else speaks[0]
    digits = "".join(ch for ch in kind if ch.isdigit())
    return fitting[(int(digits) - 1 if digits else 0) % len(fitting)]


def voice_lines() -> list[str]:
    """LIST VOICES: each voice once for each language it speaks (``name<TAB>lang<TAB>
    variant``; Orca splits the language at "-")."""
    return [f"{v.name}\t{lang}\t{v.gender or 'none'}" for v in VOICES for lang in v.languages]


_KEYS_ZH = {
    "space": "空格",
    "enter": "回车",
    "return": "回车",
    "tab": "制表",
    "escape": "退出",
    "backspace": "退格",
    "delete": "删除",
    "insert": "插入",
    "home": "行首",
    "end": "行尾",
    "page_up": "上页",
    "page_down": "下页",
    "up": "上",
    "down": "下",
    "left": "左",
    "right": "右",
    "shift": "上档",
    "control": "控制",
    "ctrl": "控制",
    "alt": "替换",
    "super": "徽标",
    "capslock": "大写锁定",
    "underscore": "下划线",
    "double-quote": "双引号",
}


def key_words(name: str, language: str) -> str:
    """Words for a KEY: ``ctrl_a`` is "控制 a" in Chinese, "control a" in English; a
    single character is itself (CHAR's text)."""
    if len(name) == 1:
        return name
    parts = [p for p in name.replace("-", "_").split("_") if p] if name not in _KEYS_ZH else [name]
    zh = not language.startswith("en")
    words = []
    for part in parts:
        low = part.lower()
        if zh and low in _KEYS_ZH:
            words.append(_KEYS_ZH[low])
        else:
            words.append({"ctrl": "control", "page_up": "page up"}.get(low, low))
    return " ".join(words)
