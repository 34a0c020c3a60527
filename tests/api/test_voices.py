from __future__ import annotations

import pytest

from kuhu_driver.api import DEFAULT_VOICE, VOICES, find_voice, resolve_voice_id


def test_catalog_has_the_34_system_voices() -> None:
    assert len(VOICES) == 34
    assert len({v.id for v in VOICES}) == 34
    assert all(v.id.startswith("v3-voice-") and len(v.id) == 41 for v in VOICES)


def test_lookup_by_name_and_id() -> None:
    assert find_voice("小婉") is not None
    assert find_voice("小婉").id == "v3-voice-b197c9912001439d890cf2a5a0b29226"  # type: ignore[union-attr]
    assert find_voice("v3-voice-b197c9912001439d890cf2a5a0b29226").name == "小婉"  # type: ignore[union-attr]
    assert find_voice("COLLINS").name == "collins"  # type: ignore[union-attr]
    assert find_voice("小杰力豆") is find_voice("小杰")


def test_cloned_ids_are_accepted() -> None:
    cloned = "v3-voice-" + "0123456789abcdef" * 2
    assert find_voice(cloned) is None
    assert resolve_voice_id(cloned.upper().replace("V3-VOICE-", "v3-voice-")) == cloned


def test_unknown_name_is_named_with_suggestions() -> None:
    with pytest.raises(ValueError, match="小白白") as info:
        find_voice("小白白")
    assert "小白" in str(info.value)
    with pytest.raises(ValueError):
        find_voice("v3-voice-xyz")


def test_default_voice_speaks_chinese_and_english() -> None:
    assert DEFAULT_VOICE.name in ("小淳", "小诚")
    assert set(DEFAULT_VOICE.languages) == {"zh-CN", "en-US"}


def test_children_and_genders_from_the_page() -> None:
    assert find_voice("豆豆").gender == "male"  # type: ignore[union-attr]
    assert find_voice("豆豆").age == "child"  # type: ignore[union-attr]
    assert find_voice("小婉").gender is None  # type: ignore[union-attr]
