"""Chunking and word spans: pure functions, no I/O (the billing rule is in ``_text``)."""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from itertools import accumulate

from .._text import HAN_CLASS, MAX_BILLED_PER_REQUEST, char_costs
from ..errors import InvalidInputError

#: The first piece of an utterance is at most this long, so first sound comes quickly.
FIRST_PIECE_LIMIT = 200
#: Then pieces grow: the second is ready before a short first sentence has played.
RAMP = (600,)
# Where a piece may end, best first. A cut position p means text[:p] | text[p:].
_SENTENCE_END = re.compile(r"(?:[。！？!?；;…\n]|\.(?=\s))+[”’」』）)\"']*")
_CLAUSE_END = re.compile(r"[，、,：:]+")
_SPACE = re.compile(r"\s+")
#: ``glue`` values: a cut here would split a character; or only a chain of emoji.
HARD, SOFT = 1, 2
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
    prefix = [0, *accumulate(char_costs(text))]
    glue, tiers = _break_points(text)
    n = len(text)
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            break
        first = not spans and first_limit is not None
        if first_limit is None:
            lim = limit
        elif first:
            lim = first_limit
        elif len(spans) <= len(ramp):
            lim = min(limit, ramp[len(spans) - 1])
        else:
            lim = limit
        # Farthest end whose piece fits the limit.
        e_max = bisect.bisect_right(prefix, prefix[pos] + lim) - 1
        end = _best_end(pos, e_max, n, tiers, glue, first=first)
        stop = end
        while stop > pos and text[stop - 1].isspace():
            stop -= 1
        if stop > pos:
            spans.append((pos, stop))
        pos = end
    return spans


def _break_points(text: str) -> tuple[bytearray, list[list[int]]]:
    """``glue[p]``: a cut at p would split a character: ``HARD`` before a combining mark
    (or a joiner, a variation selector), ``SOFT`` after a zero-width joiner, where a
    sequence of emoji could be split into whole emoji; and the allowed cut positions,
    best tier first: sentence ends, clause marks, spaces (none inside a word, number, URL
    or maths expression)."""
    n = len(text)
    glue = bytearray(n + 1)
    for i in range(1, n):
        ch = text[i]
        if ch in "\u200d\ufe0e\ufe0f" or unicodedata.category(ch)[0] == "M":
            glue[i] = HARD
        elif text[i - 1] == "\u200d":
            glue[i] = SOFT
    inside = bytearray(n + 1)
    for m in _protected().finditer(text):
        if m.end() - m.start() > 1:
            inside[m.start() + 1 : m.end()] = b"\x01" * (m.end() - m.start() - 1)

    def cuts(pattern: re.Pattern[str], *, at_start: bool = False) -> list[int]:
        found = (m.start() if at_start else m.end() for m in pattern.finditer(text))
        return [p for p in found if 0 < p < n and not glue[p] and not inside[p]]

    return glue, [cuts(_SENTENCE_END), cuts(_CLAUSE_END), cuts(_SPACE, at_start=True)]


def _best_end(
    pos: int, e_max: int, n: int, tiers: list[list[int]], glue: bytearray, *, first: bool
) -> int:
    """Where the piece starting at ``pos`` ends, given its farthest end ``e_max``."""
    if first:  # the first sentence end, so that the first request is small
        tier = tiers[0]
        i = bisect.bisect_right(tier, pos)
        if i < len(tier) and tier[i] <= e_max:
            return tier[i]
    if e_max >= n:
        return n
    for tier in tiers:
        i = bisect.bisect_right(tier, e_max) - 1
        if i >= 0 and tier[i] > pos:
            return tier[i]
    # No break point fits: cut hard at the limit, but never inside a character; a chain
    # of emoji joined by ZWJs longer than a request is cut between two whole emoji.
    end = max(e_max, pos + 1)
    while end - 1 > pos and glue[end]:
        end -= 1
    if end - 1 == pos and glue[end]:
        end = max(e_max, pos + 1)
        while end - 1 > pos and glue[end] == HARD:
            end -= 1
        if glue[end] == HARD:
            raise InvalidInputError(
                f"one character of the text (at position {pos}) carries more combining marks "
                "than one request can hold; remove them (they are not spoken)"
            )
    return end


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


#: The largest piece of a screen reader's message: it is interrupted at any moment, and
#: what was fetched is paid for (see ``reader_pieces``).
READER_PIECE_LIMIT = 400


def reader_pieces(text: str) -> list[tuple[int, int]]:
    """How a screen reader's message is split (the Speech Dispatcher module): each
    sentence its own request (split further past ``READER_PIECE_LIMIT`` billed
    characters). A sentence read again (a menu, a message resumed after a pause, which
    the server sends again from a sentence's end) is then the same request: the cache
    has it."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.end() if m is not None else len(text)
        if end > start:
            part = text[start:end]
            spans += [
                (start + a, start + b) for a, b in chunk_spans(part, limit=READER_PIECE_LIMIT)
            ]
        start = end
    return spans


@cache
def _word_re() -> re.Pattern[str]:
    return re.compile(
        rf"[{HAN_CLASS}]|(?:(?![{HAN_CLASS}])[^\W_])+(?:['’._\-](?:(?![{HAN_CLASS}])[^\W_])+)*"
    )


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(location, length)`` of each spoken word: a Han character is a word of its own."""
    return [(m.start(), m.end() - m.start()) for m in _word_re().finditer(text)]


def compile_chunk_patterns() -> None:
    """Compile the text patterns now (milliseconds each), ahead of the first utterance,
    on a thread that has time for it."""
    sample = "预热一下，warm up 3.14 https://example.com。"
    speech_pieces(sample)
    word_spans(sample)
    char_costs(sample)
