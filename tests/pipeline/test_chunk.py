from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from kuhu_driver._text import billed_chars
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.pipeline import chunk_spans, chunk_text, estimate, word_spans


@pytest.mark.parametrize(
    ("text", "limit", "pieces"),
    [
        ("你好。世界。", 6, ["你好。", "世界。"]),
        ("你好，世界。再见", 10, ["你好，世界。", "再见"]),
        ("one two three four", 9, ["one two", "three", "four"]),
        ("算一算 3×(2+1)=9 对吗", 12, ["算一算", "3×(2+1)=9", "对吗"]),
        ("price 1,000.50 ok", 12, ["price", "1,000.50 ok"]),
        ("see https://a.cn/x?y=1 now", 20, ["see", "https://a.cn/x?y=1", "now"]),
        ("aaaaaaaaaa", 4, ["aaaa", "aaaa", "aa"]),
        ("First. Second one here.", 12, ["First.", "Second one", "here."]),
        ("  \n ", 10, []),
    ],
)
def test_chunk_table(text: str, limit: int, pieces: list[str]) -> None:
    assert chunk_text(text, limit=limit) == pieces


def test_first_piece_is_the_first_sentence() -> None:
    text = "第一句。" + "后面的话很长，" * 200
    pieces = chunk_text(text, first_limit=200)
    assert pieces[0] == "第一句。"
    assert all(billed_chars(p) <= 2000 for p in pieces)


def test_pieces_ramp_up_after_the_first_sentence() -> None:
    from kuhu_driver.pipeline import speech_pieces

    text = "第一句。" + "后面的话很长，" * 400
    sizes = [billed_chars(text[a:b]) for a, b in speech_pieces(text)]
    assert sizes[0] == 7
    assert sizes[1] <= 600 < sizes[2] <= 2000


def test_combining_marks_stay_with_their_base() -> None:
    text = "e\u0301" * 30
    for piece in chunk_text(text, limit=7):
        assert not piece.startswith("\u0301")


def _strip_ws(s: str) -> str:
    return re.sub(r"\s+", "", s)


texts = st.text(
    alphabet=st.sampled_from(list("你好世界。，！？!?;：:, .\n abcXYZ0123456789×+=()https/"))
    | st.characters(),
    max_size=400,
)


@given(texts, st.integers(min_value=2, max_value=60), st.none() | st.integers(2, 30))
@example("3×(2+1)=9。" * 20, 12, None)
def test_chunk_promises(text: str, limit: int, first_limit: int | None) -> None:
    try:
        spans = chunk_spans(text, limit=limit, first_limit=first_limit)
    except InvalidInputError:
        # Refused only for one character whose marks (combining marks, joiners,
        # variation selectors: what cannot be cut from it) alone pass a piece's limit.
        smallest = min(limit, first_limit) if first_limit is not None else limit
        assert max(_cluster_billed(text)) > smallest
        return
    last = 0
    for i, (a, b) in enumerate(spans):
        piece = text[a:b]
        cap = first_limit if (i == 0 and first_limit is not None) else limit
        # Within the limit (a single character may exceed a tiny limit only if it is alone).
        assert billed_chars(piece) <= max(cap, billed_chars(text[a]))
        assert piece == piece.strip() and piece
        assert not text[last:a].strip(), "only whitespace between pieces"
        last = b
    assert not text[last:].strip()
    assert _strip_ws("".join(text[a:b] for a, b in spans)) == _strip_ws(text)


@given(
    st.lists(
        st.sampled_from(["3×(2+1)=9", "12345", "hello", "3.14", "x^2 + y^2 = z^2"]),
        min_size=1,
        max_size=30,
    ),
    st.integers(20, 80),
)
def test_chunk_never_splits_numbers_words_or_maths(tokens: list[str], limit: int) -> None:
    text = "，".join(tokens) + "。"
    pieces = chunk_text(text, limit=limit)
    for piece in pieces:
        for token in piece.strip("，。").split("，"):
            assert token in tokens or token == ""


def _cluster_billed(text: str) -> list[int]:
    """The billed size of each character with what is glued to it (worked out here)."""
    sizes: list[int] = []
    for i, ch in enumerate(text):
        glued = i > 0 and (ch in "\u200d\ufe0e\ufe0f" or unicodedata.category(ch)[0] == "M")
        if glued:
            sizes[-1] += billed_chars(ch)
        else:
            sizes.append(billed_chars(ch))
    return sizes or [0]


def test_chunk_splits_a_megabyte_whole_and_within_the_limit() -> None:
    """A megabyte of text: every piece within 2,000 billed characters, and nothing lost
    (the time it takes is a figure of the bench, not a test)."""
    text = ("这是一个很长的句子，里面有数字123和English words。" * 30000)[:1_000_000]
    pieces = chunk_text(text)
    assert all(billed_chars(p) <= 2000 for p in pieces)
    assert "".join(pieces) == text.strip()


def test_word_spans_han_is_a_word() -> None:
    text = "你好 world, it's 3.14!"
    words = [text[a : a + n] for a, n in word_spans(text)]
    assert words == ["你", "好", "world", "it's", "3.14"]


def test_estimate() -> None:
    e = estimate("你好。" * 1000)  # 5 billed each: 5000 billed
    assert e.billed_chars == 5000
    assert e.requests == 5  # 5 | 600 | 2000 | 2000 | 395 billed
    assert e.yuan == pytest.approx(0.5)


def test_a_character_with_more_marks_than_a_request_holds_is_refused_at_once() -> None:
    # Before: one request per code point (504 for 2,500 marks; 98,002 for 100,000).
    for marks in (2500, 5000, 100_000):
        with pytest.raises(InvalidInputError, match="combining marks"):
            estimate("a" + "\u0301" * marks)


def test_a_long_chain_of_joined_emoji_is_cut_between_whole_emoji() -> None:
    text = "\U0001f468\u200d" * 1500 + "\U0001f468"  # 3,001 code points, one "character"
    spans = chunk_spans(text)
    assert len(spans) == 2  # as few as the 2,000 limit allows; before: 1,002
    for a, _ in spans:
        assert text[a] == "\U0001f468"  # each piece starts with a whole emoji
    assert "".join(text[a:b] for a, b in spans) == text
