"""The markup parser (kuhu_driver/pipeline/_markup.py), its values (_tones.py) and the
pieces it makes (_plan.py): input/output tables. What is heard is in test_markup_heard.py."""

from __future__ import annotations

import logging

import pytest

from kuhu_driver import MarkupError, estimate
from kuhu_driver._model import Voicing
from kuhu_driver.api import resolve_voice_id
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.pipeline._markup import looks_like_markup, parse
from kuhu_driver.pipeline._plan import AT_END, plan_pieces
from kuhu_driver.pipeline._tones import MAX_BREAK_MS, Tone

BASE = Voicing("xiaochun", 50, 1.0, 1.0, 22050)


@pytest.mark.parametrize(
    "text",
    [
        "a < b & c",
        "if x<y and y>z then",
        "AT&T and R&D <3",
        "<html> is not ours",
        "x <s and y",
        "[[not a command]] and [[silence 5]]",
        "价格 < 100 & 折扣",
    ],
)
def test_text_without_markup_is_plain_and_unchanged(text: str) -> None:
    assert not looks_like_markup(text)
    script = parse(text)
    assert script.text == text and not script.markup
    assert script.breaks == [] and script.cuts == [] and script.source is None


@pytest.mark.parametrize(
    ("text", "spoken", "breaks"),
    [
        ('一<break time="700ms"/>二', "一二", [(1, 700)]),
        ('一<break time="1.5s"/>二', "一二", [(1, 1500)]),
        ('一<break strength="strong"/>二', "一二", [(1, 750)]),
        ("一<break/>二", "一二", [(1, 500)]),
        ('Hello <silence msec="500"/> world', "Hello  world", [(6, 500)]),
        ("前[[slnc 300]]后", "前后", [(1, 300)]),
        ('一<break time="200ms"/><break time="300ms"/>二', "一二", [(1, 500)]),
        ('<speak>一<break time="700ms"></break>二</speak>', "一二", [(1, 700)]),
        ('一<break time="0ms"/>二', "一二", []),
    ],
)
def test_breaks_become_silence_at_their_place(
    text: str, spoken: str, breaks: list[tuple[int, int]]
) -> None:
    script = parse(text)
    assert script.markup
    assert (script.text, script.breaks) == (spoken, breaks)


def test_entities_are_decoded_and_positions_map_back_to_the_source() -> None:
    text = '<speak>AT&amp;T &#x4F60;&#22909; &lt;ok&gt;<break time="1s"/></speak>'
    script = parse(text)
    assert script.text == "AT&T 你好 <ok>"
    # the characters an entity made: a word's span is the entities in the source
    loc = script.text.index("你")
    assert script.source_span(loc, 2) == (text.index("&#x4F60;"), len("&#x4F60;&#22909;"))


def test_a_stray_less_than_or_ampersand_in_markup_text_is_a_character() -> None:
    script = parse('3 < 4 & 5<break time="10ms"/>')
    assert script.text == "3 < 4 & 5"


def test_say_as_sub_and_sentences() -> None:
    script = parse(
        '<speak><s>code <say-as interpret-as="characters">ABC</say-as></s>'
        '<s><sub alias="World Wide Web">WWW</sub></s></speak>'
    )
    assert script.text.split() == ["code", "A", "B", "C", "World", "Wide", "Web"]
    # each sentence its own request: cut where one ends and the next begins
    plan = plan_pieces(script, speech_pieces)
    assert [script.text[a:b] for a, b in plan.spans] == ["code A B C", "World Wide Web"]


def test_prosody_and_voice_change_the_requests_where_they_change() -> None:
    script = parse(
        '<speak>平常<prosody rate="slow" volume="+6dB">慢一点</prosody>'
        '<voice name="小婉">换人</voice>回来</speak>'
    )
    plan = plan_pieces(script, speech_pieces)
    texts = [script.text[a:b] for a, b in plan.spans]
    assert texts == ["平常", "慢一点", "换人", "回来"]
    voicings = [plan.tones.get(i, Tone()).apply(BASE) for i in range(4)]
    assert voicings[0] == voicings[3] == BASE
    assert (voicings[1].rate, voicings[1].volume) == (0.75, 100)  # +6 dB: twice as loud
    assert voicings[2].voice == resolve_voice_id("小婉") and voicings[2].rate == 1.0


@pytest.mark.parametrize(
    ("markup", "rate", "pitch", "volume"),
    [
        ('<prosody rate="x-fast">x</prosody>', 2.0, 1.0, 50),
        ('<prosody rate="150%">x</prosody>', 1.5, 1.0, 50),
        ('<prosody rate="+20%">x</prosody>', 1.2, 1.0, 50),
        ('<prosody rate="5">x</prosody>', 2.0, 1.0, 50),  # held to the API's bounds
        ('<prosody pitch="high">x</prosody>', 1.0, 1.25, 50),
        ('<prosody pitch="+12st">x</prosody>', 1.0, 2.0, 50),
        ('<prosody pitch="-20Hz">x</prosody>', 1.0, 0.9, 50),
        ('<prosody volume="soft">x</prosody>', 1.0, 1.0, 25),
        ('<prosody volume="80">x</prosody>', 1.0, 1.0, 80),
        ('<prosody volume="silent">x</prosody>', 1.0, 1.0, 0),
        ('<rate speed="10">x</rate>', 2.0, 1.0, 50),
        ('<rate absspeed="-10">x</rate>', 0.5, 1.0, 50),
        ('<pitch middle="10">x</pitch>', 1.0, 2.0, 50),
        ('<volume level="50">x</volume>', 1.0, 1.0, 25),
        ('<rate speed="-3"/>x', 0.719, 1.0, 50),
        ("[[rate 300]]x", 1.5, 1.0, 50),
        ("[[volm 0.2]]x", 1.0, 1.0, 20),
        ('<prosody rate="slow"><prosody rate="slow">x</prosody></prosody>', 0.562, 1.0, 50),
    ],
)
def test_values_of_each_engine_in_the_apis_units(
    markup: str, rate: float, pitch: float, volume: int
) -> None:
    script = parse(markup)
    plan = plan_pieces(script, speech_pieces)
    (i,) = [i for i, (a, b) in enumerate(plan.spans) if script.text[a:b] == "x"]
    v = plan.tones.get(i, Tone()).apply(BASE)
    assert (v.rate, v.pitch, v.volume) == (rate, pitch, volume)


def test_a_sapi_setting_without_content_holds_to_the_end_of_its_element() -> None:
    script = parse('<speak><p><volume level="50"/>轻声</p>原样</speak>')
    plan = plan_pieces(script, speech_pieces)
    volumes = [plan.tones.get(i, Tone()).apply(BASE).volume for i in range(len(plan.spans))]
    assert [script.text[a:b] for a, b in plan.spans] == ["轻声", "原样"]
    assert volumes == [25, 50]


def test_marks_and_breaks_keep_their_order_and_place() -> None:
    script = parse(
        '<speak>一<mark name="a"/><break time="100ms"/><mark name="b"/>二'
        '<bookmark mark="c"/>三<mark name="end"/></speak>'
    )
    plan = plan_pieces(script, speech_pieces)
    assert [script.text[a:b] for a, b in plan.spans] == ["一", "", "二三"]
    assert plan.silences == {1: 100}
    assert plan.marks == {1: [(0, "a"), (AT_END, "b")], 2: [(1, "c"), (AT_END, "end")]}


def test_unknown_elements_are_dropped_with_one_warning_and_their_text_spoken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        script = parse(
            '<speak><emphasis>很</emphasis><emphasis>重要</emphasis><audio src="x"/>。</speak>'
        )
    assert script.text == "很重要。"
    warned = [r for r in caplog.records if "markup" in r.getMessage()]
    assert len(warned) == 1 and "audio, emphasis" in warned[0].getMessage()


@pytest.mark.parametrize(
    ("text", "at", "why"),
    [
        ('一<break time="700ms"二', 1, "not well formed"),
        ('一<break time="abc"/>二', 1, "500ms or 1.5s"),
        ('<prosody rate="slow">没关', 0, "never closed"),
        ("<speak>一</prosody></speak>", 8, "closes <speak>"),
        ('<speak>x<break time="61s"/></speak>', 8, f"{MAX_BREAK_MS} ms"),
        ('<voice name="nobody">x</voice>', 0, "unknown voice"),
        ("<sub>x</sub>", 0, "alias="),
        ("<mark/>", 0, "name="),
        ('<prosody rate="quick">x</prosody>', 0, "rate='quick'"),
        ("[[volm 7]]", 0, "0.0 to 1.0"),
        ("说[[slnc]]话", 1, "not a number"),
        ("<speak>&#0;</speak>", 7, "no character"),
        ('<silence msec="-5"/>', 0, "from 0"),
    ],
)
def test_malformed_markup_is_one_error_naming_its_place(text: str, at: int, why: str) -> None:
    with pytest.raises(MarkupError) as caught:
        parse(text)
    assert caught.value.position == at
    assert f"character {at + 1} " in str(caught.value) and why in str(caught.value)
    assert isinstance(caught.value, InvalidInputError)


def test_the_mode_forces_either_way() -> None:
    assert parse('一<break time="1s"/>二', "off").text == '一<break time="1s"/>二'
    forced = parse("a &lt; b", "ssml")
    assert forced.markup and forced.text == "a < b"
    with pytest.raises(InvalidInputError, match="markup must be one of"):
        parse("x", "xml")


def test_estimate_counts_only_what_is_sent_and_shows_the_silence() -> None:
    plain = estimate("一二")
    marked = estimate('一<break time="700ms"/>二')
    assert marked.billed_chars == plain.billed_chars == 4
    assert (marked.requests, marked.silence_seconds) == (2, 0.7)
    assert estimate('一<break time="700ms"/>二', markup="off").billed_chars == 25
