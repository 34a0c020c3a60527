"""A script's pieces: the text split into requests that never cross a cut of its markup
(a break, a change of voicing, a sentence of ``<s>``), with a piece of silence at each
break and each mark placed in the piece that sounds it; what a text costs (``estimate``).
Pure: no I/O."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import accumulate

from .._text import billed_chars, char_costs, clean_text, yuan
from ..errors import InvalidInputError
from ._chunk import compile_chunk_patterns, speech_pieces
from ._cues import Cue, cue_layout
from ._markup import Script, compile_markup_patterns, parse
from ._tones import Tone

#: Characters of a long text in which its first piece is looked for (the first piece
#: bills at most FIRST_PIECE_LIMIT, and every character bills at least 1).
QUICK_PREFIX = 1000

#: A mark's offset meaning "as the piece ends" (after its last sample).
AT_END = -1


@dataclass
class Plan:
    """``spans`` of the script's text, one per piece, in order; a piece of silence has
    an empty span at its position, and its length in ``silences``. ``tones``: the
    change of voicing of each piece that has one. ``marks``: each piece's marks, as
    ``(offset in its text or AT_END, name)``, in the order they sound."""

    spans: list[tuple[int, int]]
    silences: dict[int, int] = field(default_factory=dict)
    tones: dict[int, Tone] = field(default_factory=dict)
    marks: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    #: With subtitles, each piece of text's cue (its lines laid out once, here).
    cues: dict[int, Cue] = field(default_factory=dict)


def frame_clock(text: str, frames: int) -> Callable[[int], int]:
    """For a piece of ``frames`` samples speaking ``text``: the sample where the
    character at an offset of ``text`` begins (``AT_END``: after the last), reckoned
    by billed characters, as a word's or a mark's place is heard."""
    prefix = [0, *accumulate(char_costs(text))]
    total = prefix[-1] or 1

    def frame(offset: int) -> int:
        return frames if offset == AT_END else frames * prefix[offset] // total

    return frame


def plan_pieces(script: Script, split: Callable[[str], list[tuple[int, int]]]) -> Plan:
    """The pieces of ``script``, each region between cuts split by ``split`` (the
    chunker: a short first piece, then larger ones; or one per subtitle cue)."""
    text = script.text
    if not script.markup:
        return Plan(split(text))
    plan = Plan([])
    breaks = dict(script.breaks)
    starts = [pos for pos, _ in script.tones]
    edges = sorted({0, len(text), *script.cuts, *breaks})
    for k, a in enumerate(edges):
        if a in breaks:
            plan.silences[len(plan.spans)] = breaks[a]
            plan.spans.append((a, a))
        b = edges[k + 1] if k + 1 < len(edges) else a
        if b <= a:
            continue
        t = bisect.bisect_right(starts, a) - 1
        tone = script.tones[t][1] if t >= 0 else Tone()
        for s, e in split(text[a:b]):
            if tone != Tone():
                plan.tones[len(plan.spans)] = tone
            plan.spans.append((a + s, a + e))
    _place_marks(plan, script)
    return plan


def _place_marks(plan: Plan, script: Script) -> None:
    """Each mark in the piece that sounds its position: within a piece of text at its
    character; at a piece of silence's start (or, after that break, its end); in a gap
    between pieces at the next one's start; after the last piece at its end."""
    spans = plan.spans
    if not spans:
        return
    starts = [a for a, _ in spans]
    for pos, name, after in script.marks:
        i = bisect.bisect_right(starts, pos) - 1  # the last piece starting at or before
        while i >= 0 and spans[i][0] == pos and i - 1 >= 0 and spans[i - 1][0] == pos:
            i -= 1  # the first piece at this position: a silence before its text
        placed = _placement(plan, i, pos, after)
        if placed is None:
            nxt = i + 1
            placed = (nxt, 0) if nxt < len(spans) else (len(spans) - 1, AT_END)
        plan.marks.setdefault(placed[0], []).append((placed[1], name))


def _placement(plan: Plan, i: int, pos: int, after: bool) -> tuple[int, int] | None:
    if i < 0:
        return None
    a, b = plan.spans[i]
    if i in plan.silences and a == pos:
        return (i, AT_END if after else 0)
    if a <= pos < b:
        return (i, pos - a)
    return None


def script_of(text: str | Script, markup: str = "auto") -> Script:
    """``text`` cleaned and parsed (a :class:`Script` as it is); InvalidInputError
    (MarkupError for malformed markup) if it cannot be spoken."""
    try:
        script = text if isinstance(text, Script) else parse(clean_text(text), markup)
        if not script.breaks:  # a text of breaks alone is silence; else words are needed
            clean_text(script.text)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(str(exc)) from None
    return script


def check_billed(text: str, max_billed: int) -> int:
    """What ``text`` (cleaned) bills; :class:`InvalidInputError` if over ``max_billed``."""
    billed = billed_chars(text)
    if billed > max_billed:
        raise InvalidInputError(
            f"the text bills {billed} characters (about {yuan(billed):.2f} yuan), more "
            f"than the {max_billed} allowed for one utterance; split it, or raise "
            "KUHU_MAX_BILLED if you mean it"
        )
    return billed


def job_plan(
    script: Script,
    format: str,
    *,
    cues: bool,
    whole: bool,
    split: Callable[[str], list[tuple[int, int]]] | None = None,
) -> tuple[Plan, bool]:
    """The pieces of a job, and whether they are only its first so far: a long plain
    text's first piece is found in its first characters and asked for before the rest
    is split (20,000 characters take 13 ms to split)."""
    if script.breaks and format != "pcm":
        raise InvalidInputError(
            "breaks in the text can be saved to .wav or .pcm, not to MP3 (its frames "
            "cannot hold an exact silence): save to .wav"
        )
    text = script.text
    if not (cues or whole or script.markup or split) and len(text) > QUICK_PREFIX:
        return Plan(speech_pieces(text[:QUICK_PREFIX])[:1]), True
    if cues:
        return _cue_plan(script), False
    return plan_pieces(script, split or speech_pieces), False


def _cue_plan(script: Script) -> Plan:
    """One piece per subtitle cue, each cue kept with its lines (``Plan.cues``)."""
    laid: list[Cue] = []

    def split(text: str) -> list[tuple[int, int]]:
        cues = cue_layout(text)
        laid.extend(cues)
        return [(c.start, c.end) for c in cues]

    plan = plan_pieces(script, split)
    texts = iter(laid)  # in the order of the pieces of text
    plan.cues = {
        i: replace(next(texts), start=a, end=b)
        for i, (a, b) in enumerate(plan.spans)
        if i not in plan.silences
    }
    return plan


@dataclass(frozen=True)
class Estimate:
    """What speaking a text will cost: only the text sent is billed; the silence of
    its markup's breaks (``silence_seconds``) is made here, at no cost."""

    billed_chars: int
    requests: int
    yuan: float
    silence_seconds: float = 0.0


def estimate(text: str, *, markup: str = "auto") -> Estimate:
    """Billed characters, requests and yuan for ``text``, chunked as the driver does,
    its markup read as ``markup`` says (see ``speak``); raises ``MarkupError`` for
    malformed markup."""
    script = parse(text, markup)
    plan = plan_pieces(script, speech_pieces)
    sent = [(a, b) for i, (a, b) in enumerate(plan.spans) if i not in plan.silences]
    billed = sum(billed_chars(script.text[a:b]) for a, b in sent)
    return Estimate(
        billed_chars=billed,
        requests=len(sent),
        yuan=yuan(billed),
        silence_seconds=script.silence_ms() / 1000,
    )


def compile_patterns() -> None:
    """Compile the chunker's and the markup parser's patterns now (milliseconds each),
    ahead of the first utterance, on a thread that has time for it."""
    compile_chunk_patterns()
    compile_markup_patterns()
