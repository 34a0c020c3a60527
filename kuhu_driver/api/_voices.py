"""The API's 34 system voices, and lookup by id or by name."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VOICE_ID_RE = re.compile(r"v3-voice-[0-9a-f]{32}")


@dataclass(frozen=True)
class Voice:
    """One voice: ``languages`` are BCP 47 tags such as ``zh-CN``."""

    id: str
    name: str
    scenes: tuple[str, ...]
    languages: tuple[str, ...]
    gender: str | None = None
    age: str | None = None
    note: str | None = None
    aliases: tuple[str, ...] = ()


def _v(
    hex_id: str,
    name: str,
    scenes: str,
    langs: str,
    gender: str | None = None,
    age: str | None = None,
    note: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Voice:
    tags = {"zh": "zh-CN", "en": "en-US"}
    return Voice(
        id=f"v3-voice-{hex_id}",
        name=name,
        scenes=tuple(scenes.split("、")),
        languages=tuple(tags[x] for x in langs.split("+")),
        gender=gender,
        age=age,
        note=note,
        aliases=aliases,
    )


# From the vendor's table (see docs/api.md): gender and age only where the page says so.
VOICES: tuple[Voice, ...] = (
    _v("ed17d266bfbe4114893dfa352f332448", "猴哥", "网络男声", "zh", "male"),
    _v("7f43b1063bdd47318aaab1671aa54cff", "熊大", "网络男声", "zh", "male"),
    _v("70d72b0bd16443baa4358764aac0bae2", "四郎", "网络男声", "zh", "male"),
    _v("eb6932d7f9c34e319c5142cc74b0b177", "TVB女声", "网络女声", "zh", "female"),
    _v("ee13f81afd97475ea55ef9bd51c25fe4", "海绵宝宝", "网络男声", "zh", "male"),
    _v("f921465c12274983a8bf583e95cd0a64", "艾伦", "网络男声", "zh", "male"),
    _v("1d7772940e3b43759a044ad48dea6ee0", "志玲", "网络女声", "zh", "female"),
    _v("e0bbe3681db64e26957ccf86c4c7f125", "妲己", "网络女声", "zh", "female"),
    _v("ed7d9c839ab74ad8b6a01a577a4b6362", "东北老铁", "网络男声", "zh", "male"),
    _v("b197c9912001439d890cf2a5a0b29226", "小婉", "口播、数字人", "zh"),
    _v("be3e3872c8ed4eb4a00f06290e17c8cc", "小橙", "口播、数字人", "zh"),
    _v("10541d6131cc47b88bd0a1143ce1f490", "小华", "口播、数字人", "zh"),
    _v("2ecfccfc72654c0a86112d0fe89a6864", "小淳", "口播、数字人", "zh+en"),
    _v("12e717743b7348afba36c458ab119077", "小夏", "口播、数字人", "zh"),
    _v("1f299b3101d747129bda657627edaeea", "小诚", "口播、数字人", "zh+en"),
    _v("874df6f543464352a91680321ff1dcb4", "小白", "口播、数字人、有声书", "zh"),
    _v(
        "8c726a373e2c42ee9b9c266a52c92ffb",
        "老铁",
        "口播、数字人、有声书、新闻播报、直播带货",
        "zh",
        note="东北口音",
    ),
    _v("bb2c2b441c3d45feab44106713d63b27", "小书", "口播、数字人、有声书、新闻播报、客服", "zh"),
    _v("e215eaf9bd87464796a6203f5bd73064", "小硕", "口播、数字人、新闻播报、客服", "zh"),
    _v("74f47c23be9b43138120760be6baf4a3", "小婧", "口播、数字人、新闻播报、客服", "zh"),
    _v("b82f866e41b443769ee21103574300ef", "妙妙", "口播、数字人、有声、客服", "zh"),
    _v("670d255141374e4195d46f4b8af91647", "悦悦", "口播、数字人、有声、客服、诗词、新闻", "zh"),
    _v("c5f75e1a9b554f9ca2c5d07cc0104b59", "小媛", "口播、数字人、有声", "zh"),
    _v("1f66607828c747559d5b5f29e18a3623", "小飞", "会议、新闻、有声", "zh"),
    _v(
        "bcca7a9bbc11429d9c880011e07b1c4b",
        "小杰",
        "力豆聊天助手、新闻、有声",
        "zh+en",
        "male",
        "child",
        aliases=("小杰力豆",),
    ),
    _v("73b208769a754a45ad62941bba1d6f26", "小彤", "口播、数字人、有声", "zh", "female", "child"),
    _v("e840086e81cd4155b3b3e4d1eecdae38", "小祥", "口播、新闻、有声", "zh"),
    _v("20492bd01d6949bb833957ce0c368ff2", "collins", "口播、数字人、有声、带货、客服", "zh+en"),
    _v("d7e251f19b33471cafae4b1130b030c9", "Belala", "口播、数字人、新闻、客服", "zh"),
    _v("f9af73b6cfed4db79fbdb6ecf02cf82d", "豆豆", "阳光顽皮男孩", "zh+en", "male", "child"),
    _v("cd929bdb545c4869a4e75401a75708f3", "铃铃", "稚气呆板女孩", "zh+en", "female", "child"),
    _v("555735833b5f4af3a3d7c7d7285b0415", "可可", "懵懂乖乖女孩", "zh+en", "female", "child"),
    _v("f9b23c5c801741dcae15de19eec35078", "燃燃", "直播、活泼质感女孩", "zh+en", "female"),
    _v("6c5cb38edcdb436f86644f21d94f9fb3", "宣宣", "直播、经典直播女孩", "zh+en", "female"),
)

_BY_ID = {v.id: v for v in VOICES}
_BY_NAME = {n.casefold(): v for v in VOICES for n in (v.name, *v.aliases)}

#: 小淳 speaks Chinese and English.
DEFAULT_VOICE = _BY_NAME["小淳"]


def find_voice(id_or_name: str) -> Voice | None:
    """The system voice with this id or name (小婉, collins), or ``None`` for a cloned id.

    Raises ``ValueError`` naming the value, with close names, when it is neither a system
    voice nor a well-formed voice id.
    """
    if not isinstance(id_or_name, str):
        raise TypeError(f"voice must be a str, not {type(id_or_name).__name__}")
    key = id_or_name.strip()
    voice = _BY_ID.get(key.lower()) or _BY_NAME.get(key.casefold())
    if voice is not None:
        return voice
    if _VOICE_ID_RE.fullmatch(key.lower()):
        return None
    names = [n for v in VOICES for n in (v.name, *v.aliases)]
    import difflib

    close = difflib.get_close_matches(key, names, n=3, cutoff=0.3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown voice {id_or_name!r}: give a system voice name or id "
        f"(kuhu-say --list-voices), or a cloned voice id 'v3-voice-' + 32 hex digits{hint}"
    )


def resolve_voice_id(id_or_name: str) -> str:
    """The API voice id for a system name, a system id or a cloned id."""
    voice = find_voice(id_or_name)
    return voice.id if voice is not None else id_or_name.strip().lower()
