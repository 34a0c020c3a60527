"""The billing rule and the clean-up every text goes through (``kuhu_driver/_text.py``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuhu_driver._text import billed_chars, clean_text


@pytest.mark.parametrize(
    ("text", "billed"),
    [
        ("", 0),
        ("我像小草一样在发芽。", 19),  # 9 Han × 2 + full-width 。
        ("hello world", 11),
        ("3×(2+1)=9", 9),
        ("你好, world!", 12),
        ("，。！？", 4),
        ("𠀀", 2),  # an ideograph outside the BMP
    ],
)
def test_billed_chars_table(text: str, billed: int) -> None:
    assert billed_chars(text) == billed


han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
other = st.characters(codec="utf-8").filter(lambda c: not 0x4E00 <= ord(c) <= 0x9FFF)


@given(
    st.lists(han),
    st.lists(
        other.filter(
            lambda c: (
                not 0x3400 <= ord(c) <= 0x4DBF
                and not 0xF900 <= ord(c) <= 0xFAFF
                and ord(c) < 0x20000
            )
        )
    ),
)
def test_billed_chars_counts_han_twice(hans: list[str], others: list[str]) -> None:
    assert billed_chars("".join(hans + others)) == 2 * len(hans) + len(others)


@given(st.text(), st.text())
def test_billed_chars_is_additive(a: str, b: str) -> None:
    assert billed_chars(a + b) == billed_chars(a) + billed_chars(b)


def test_billed_chars_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        billed_chars(None)  # type: ignore[arg-type]


def test_clean_text() -> None:
    assert clean_text("a\x00b\x07c\nd") == "a b c\nd"
    with pytest.raises(ValueError, match="empty"):
        clean_text("   \n")
    # Zero-width spaces, a BOM, direction marks: nothing to speak, nothing to bill.
    for invisible in ("\u200b\u200b", "\ufeff", "\u200e \u200f\u202a\u202c", "\u2060\u3000"):
        with pytest.raises(ValueError, match="empty"):
            clean_text(invisible)
    assert clean_text("\ufeff你好") == "\ufeff你好"  # around speech they are harmless
    with pytest.raises(ValueError, match="surrogate"):
        clean_text("a\ud800b")
    with pytest.raises(TypeError):
        clean_text(None)


SILENT = {
    "space": " ",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "zero-width space": "\u200b",
    "zero-width joiner": "\u200d",
    "BOM": "\ufeff",
    "left-to-right mark": "\u200e",
    "soft hyphen": "\u00ad",
    "combining grapheme joiner": "\u034f",
    "Hangul choseong filler": "\u115f",
    "Hangul jungseong filler": "\u1160",
    "Hangul filler": "\u3164",
    "halfwidth Hangul filler": "\uffa0",
    "braille blank": "\u2800",
    "combining acute, no base": "\u0301",
    "variation selector": "\ufe0f",
    "private use": "\ue000",
    "unassigned": "\u0378",
}


@pytest.mark.parametrize("name", list(SILENT))
def test_text_made_of_characters_that_say_nothing_is_refused(name: str) -> None:
    ch = SILENT[name]
    with pytest.raises(ValueError, match="nothing to speak"):
        clean_text(ch * 3)
    with pytest.raises(ValueError, match="nothing to speak"):
        clean_text(f" {ch} \u200b{ch}")
    assert clean_text(f"{ch}好{ch}") == f"{ch}好{ch}"  # beside speech, left as it is


@given(st.text(st.characters(exclude_categories=("Cn", "Cs")), max_size=200))
def test_the_library_bills_as_the_vendor_s_rule_stated_independently(text: str) -> None:
    """``billed_chars`` (a table of Han ranges) against the emulator's statement of the
    vendor's rule (the Unicode names of CJK ideographs), on any assigned characters."""
    from kuhu_driver.testing import vendor_billed

    assert billed_chars(text) == vendor_billed(text)


@pytest.mark.parametrize(
    ("text", "billed"),
    [("你好", 4), ("ab c", 4), ("你好，world!", 11), ("〇々", 2), ("\U00020000", 2), ("１２", 2)],
)
def test_billing_examples_worked_by_hand(text: str, billed: int) -> None:
    """Han 2 each (Extension B too); letters, digits (full-width too), spaces,
    punctuation and the ideographic zero and iteration mark, which are not Han
    ideographs, 1 each."""
    assert billed_chars(text) == billed
