"""Billing count, text clean-up, chunking and word spans: pure functions, no I/O."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

__all__ = [
    "FIRST_PIECE_LIMIT",
    "MAX_BILLED_PER_REQUEST",
    "Estimate",
    "billed_chars",
    "char_costs",
    "chunk_spans",
    "chunk_text",
    "clean_text",
    "estimate",
    "speech_pieces",
    "word_spans",
]

#: The API's limit for one request, in billed characters.
MAX_BILLED_PER_REQUEST = 2000
#: The first piece of an utterance is at most this long, so first sound comes quickly.
FIRST_PIECE_LIMIT = 200
#: Then pieces grow: the second is ready before a short first sentence has played.
RAMP = (600,)
#: Price: 1 yuan per 10,000 billed characters.
YUAN_PER_BILLED_CHAR = 1 / 10_000

# CJK ideographs (the "Han" characters the vendor bills as 2).
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2EBEF),
    (0x2F800, 0x2FA1F),
    (0x30000, 0x323AF),
)
_HAN_CLASS = "".join(f"{chr(a)}-{chr(b)}" for a, b in _HAN_RANGES)
_HAN_RE = re.compile(f"[{_HAN_CLASS}]")


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _HAN_RANGES)


def billed_chars(text: str) -> int:
    """Characters the API bills for ``text``: a Han character 2, anything else 1."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return len(text) + len(_HAN_RE.findall(text))


def char_costs(text: str) -> list[int]:
    """The billed cost of each character of ``text``."""
    return [2 if _is_han(ch) else 1 for ch in text]


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: object) -> str:
    """Check that ``text`` can be sent and make it so.

    Raises ``TypeError`` for a non-string and ``ValueError`` for text with no speakable
    character (only spaces, zero-width spaces, BOMs, direction marks) or with lone
    surrogates (they cannot be encoded as UTF-8). Control characters other than tab and
    line breaks become spaces.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains lone surrogates and cannot be sent as UTF-8") from None
    cleaned = _CONTROL_RE.sub(" ", text)
    # Zero-width spaces, a BOM and direction marks (format characters) are not speech:
    # text made only of them and spaces would be billed for silence.
    if all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in cleaned):
        raise ValueError("text is empty: there is nothing to speak")
    return cleaned


# Where a piece may end, best first. A cut position p means text[:p] | text[p:].
_SENTENCE_END = re.compile(r"(?:[。！？!?；;…\n]|\.(?=\s))+[”’」』）)\"']*")
_CLAUSE_END = re.compile(r"[，、,：:]+")
_SPACE = re.compile(r"\s+")
# Runs never cut: words, numbers (3.14, 1,000, 10:30), maths (3×(2+1)=9, x^2 + 1), URLs.
_ATOM = r"[(\[（]*[^\W_]+(?:[.,:'’_][^\W_]+)*[)\]）%]*"


@cache
def _protected() -> re.Pattern[str]:
    # Compiled on first use: these Unicode-wide patterns take milliseconds to compile,
    # which pyttsx3.init("kuhu") should not pay.
    return re.compile(
        rf"(?:https?|ftp)://[^\s，。！？；、]+|www\.[^\s，。！？；、]+"
        rf"|{_ATOM}(?:\s*[-+×÷*/=<>≤≥^]\s*{_ATOM})*"
    )


def chunk_spans(
    text: str,
    *,
    limit: int = MAX_BILLED_PER_REQUEST,
    first_limit: int | None = None,
    ramp: Sequence[int] = (),
) -> list[tuple[int, int]]:
    """Split ``text`` into ``(start, end)`` spans of at most ``limit`` billed characters.

    Promises:

    - each span's text bills at most ``limit`` (the first at most ``first_limit`` if
      given), and has no whitespace at its edges;
    - spans are in order, do not overlap, and what lies between them (and around them)
      is whitespace only: the pieces joined give back the text, edge whitespace aside;
    - a span ends at a sentence end (。！？!?；; … a line break, ". ") where one fits,
      else at a clause mark (，、,：:), else at a space;
    - never inside a character (combining marks stay with their base), a number, a
      Latin word, a URL or a maths expression such as ``3×(2+1)=9``, unless such a run
      alone exceeds the limit: a piece with no break point is cut hard at the limit;
    - with ``first_limit``, the first span ends at the *first* sentence end within it,
      so that the first request is small and first sound comes quickly; ``ramp`` gives
      the limits of the spans after it (each at most ``limit``) before ``limit`` applies.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    if limit < 2:
        raise ValueError("limit must be at least 2 billed characters")
    if first_limit is not None and first_limit < 2:
        raise ValueError("first_limit must be at least 2 billed characters")
    n = len(text)
    prefix = [0, *accumulate(char_costs(text))]
    # glue[p]: a cut at p would split a character (base + combining mark, ZWJ sequences).
    glue = bytearray(n + 1)
    for i in range(1, n):
        ch = text[i]
        if unicodedata.combining(ch) or ch in "\u200d\ufe0e\ufe0f" or text[i - 1] == "\u200d":
            glue[i] = 1
    # inside[p]: a cut at p would split a word, number, URL or maths expression.
    inside = bytearray(n + 1)
    for m in _protected().finditer(text):
        if m.end() - m.start() > 1:
            inside[m.start() + 1 : m.end()] = b"\x01" * (m.end() - m.start() - 1)

    def cuts(pattern: re.Pattern[str], *, at_start: bool = False) -> list[int]:
        found = (m.start() if at_start else m.end() for m in pattern.finditer(text))
        return [p for p in found if 0 < p < n and not glue[p] and not inside[p]]

    tiers = [cuts(_SENTENCE_END), cuts(_CLAUSE_END), cuts(_SPACE, at_start=True)]

    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        first = not spans and first_limit is not None
        if first and first_limit is not None:
            lim = first_limit
        elif first_limit is not None and 0 < len(spans) <= len(ramp):
            lim = min(limit, ramp[len(spans) - 1])
        else:
            lim = limit
        # Farthest end whose piece fits the limit.
        e_max = bisect.bisect_right(prefix, prefix[pos] + lim) - 1
        end: int | None = None
        if first:
            tier = tiers[0]
            i = bisect.bisect_right(tier, pos)
            if i < len(tier) and tier[i] <= e_max:
                end = tier[i]
        if end is None and e_max >= n:
            end = n
        if end is None:
            for tier in tiers:
                i = bisect.bisect_right(tier, e_max) - 1
                if i >= 0 and tier[i] > pos:
                    end = tier[i]
                    break
        if end is None:
            # No break point fits: cut hard at the limit, but never inside a character.
            end = max(e_max, pos + 1)
            while end - 1 > pos and glue[end]:
                end -= 1
        stop = end
        while stop > pos and text[stop - 1].isspace():
            stop -= 1
        if stop > pos:
            spans.append((pos, stop))
        pos = end
    return spans


def chunk_text(
    text: str,
    *,
    limit: int = MAX_BILLED_PER_REQUEST,
    first_limit: int | None = None,
    ramp: Sequence[int] = (),
) -> list[str]:
    """The pieces of :func:`chunk_spans`, as strings."""
    spans = chunk_spans(text, limit=limit, first_limit=first_limit, ramp=ramp)
    return [text[a:b] for a, b in spans]


def speech_pieces(text: str) -> list[tuple[int, int]]:
    """How the driver splits an utterance: a short first sentence, then growing pieces."""
    return chunk_spans(text, first_limit=FIRST_PIECE_LIMIT, ramp=RAMP)


@cache
def _word_re() -> re.Pattern[str]:
    return re.compile(
        rf"[{_HAN_CLASS}]|(?:(?![{_HAN_CLASS}])[^\W_])+(?:['’._\-](?:(?![{_HAN_CLASS}])[^\W_])+)*"
    )


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(location, length)`` of each spoken word: a Han character is a word of its own."""
    return [(m.start(), m.end() - m.start()) for m in _word_re().finditer(text)]


@dataclass(frozen=True)
class Estimate:
    """What speaking a text will cost."""

    billed_chars: int
    requests: int
    yuan: float


def estimate(text: str) -> Estimate:
    """Billed characters, requests and yuan for ``text``, chunked as the driver does."""
    spans = speech_pieces(text)
    billed = sum(billed_chars(text[a:b]) for a, b in spans)
    return Estimate(billed_chars=billed, requests=len(spans), yuan=billed * YUAN_PER_BILLED_CHAR)
