"""A script's pieces: the text split into requests that never cross a cut of its markup
(a break, a change of voicing, a sentence of ``<s>``), with a piece of silence at each
break and each mark placed in the piece that sounds it. Pure: no I/O."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from ._markup import Script
from ._tones import Tone

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
