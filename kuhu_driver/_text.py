"""What the API bills and what it may be sent: the billing rule, the Han predicate and
the clean-up every text goes through. Pure functions, imported by every layer."""

from __future__ import annotations

import functools
import re
import unicodedata

#: The API's limit for one request, in billed characters.
MAX_BILLED_PER_REQUEST = 2000
#: Price: 1 yuan per 10,000 billed characters.
BILLED_PER_YUAN = 10_000

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
#: The Han ranges as the inside of a regular-expression character class.
HAN_CLASS = "".join(f"{chr(a)}-{chr(b)}" for a, b in _HAN_RANGES)


@functools.cache
def _han_re() -> re.Pattern[str]:
    # Built on first use: compiling these wide ranges takes 4-5 ms, paid at import by
    # every pyttsx3.init("kuhu") otherwise.
    return re.compile(f"[{HAN_CLASS}]")


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def is_han(ch: str) -> bool:
    """Whether ``ch`` is a Han character (billed 2; a Chinese voice is wanted for it)."""
    cp = ord(ch)
    return any(a <= cp <= b for a, b in _HAN_RANGES)


def has_han(text: str) -> bool:
    """Whether ``text`` holds a Han character."""
    return _han_re().search(text) is not None


def billed_chars(text: str) -> int:
    """Characters the API bills for ``text``: a Han character 2, anything else 1."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return len(text) + len(_han_re().findall(text))


def char_costs(text: str) -> list[int]:
    """The billed cost of each character of ``text``."""
    return [2 if is_han(ch) else 1 for ch in text]


def yuan(billed: int) -> float:
    """What ``billed`` characters cost."""
    return billed / BILLED_PER_YUAN


def clean_text(text: object) -> str:
    """Check that ``text`` can be sent and make it so.

    Raises ``TypeError`` for a non-string and ``ValueError`` for text with no speakable
    character (see :func:`is_silent`: spaces, zero-width spaces, BOMs, direction marks,
    Hangul fillers, the braille blank, marks with no base…) or with lone
    surrogates (they cannot be encoded as UTF-8). Line ends become ``\n`` (CRLF bills
    like LF, and is the same request); other control characters but tab become spaces.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text contains lone surrogates and cannot be sent as UTF-8") from None
    # Windows line ends (CRLF) are line ends, not a space billed on every line.
    cleaned = _CONTROL_RE.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Text made only of characters that are not spoken would be billed for silence.
    if all(is_silent(ch) for ch in cleaned):
        raise ValueError("text is empty: there is nothing to speak")
    return cleaned


#: Characters that are letters or symbols by category but show and say nothing: the
#: Hangul fillers, the braille blank, and the combining grapheme joiner.
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
#: Categories never spoken on their own: separators, format characters (zero-width
#: spaces, BOM, direction marks, soft hyphen), marks without a base, and code points
#: with no character (unassigned, private use, surrogates).
_SILENT_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cf", "Cc", "Mn", "Me", "Mc", "Cn", "Co", "Cs"})


def is_silent(ch: str) -> bool:
    """Whether ``ch`` on its own would be spoken as nothing (see ``INVISIBLE``)."""
    return ch.isspace() or ch in INVISIBLE or unicodedata.category(ch) in _SILENT_CATEGORIES


def one_line(text: str) -> str:
    """``text`` as one line: control characters (line breaks, terminal escapes) shown
    escaped (``\\n``, ``\\x1b``), never obeyed by a terminal or a log reader. For a
    server's words, and for paths and messages kuhu-say prints."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
