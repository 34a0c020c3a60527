"""Subtitles whose times are exact: each cue is one request, so it begins and ends at a
piece boundary of the written file, whose position is known to the sample.

Cues follow sentences and are split further to a readable length: a line holds at most
``LINE_WIDTH`` columns (a Han character takes two, as on screen: about 20 of them, or 42
other characters), a cue at most two lines, cut at a clause mark or a space where one
fits (the chunker's rules). A cue's text is exactly the text it speaks, with a line
break where its two lines meet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._files import KeptBeside, install, temp_beside
from ..audio import mp3_frames
from ..errors import InvalidInputError
from ._chunk import _SENTENCE_END, chunk_spans

#: Columns of one subtitle line (a Han character takes two).
LINE_WIDTH = 42
#: Lines of one cue.
CUE_LINES = 2
SUBTITLE_FORMATS = (".srt", ".vtt")


@dataclass(frozen=True)
class Cue:
    """One subtitle: its span of the text, its lines, and its times in seconds."""

    start: int
    end: int
    lines: tuple[str, ...]
    begins: float = 0.0
    ends: float = 0.0


def cue_layout(text: str) -> list[Cue]:
    """The cues of ``text`` (times not yet known): sentences, then readable lengths."""
    cues: list[Cue] = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        cues.extend(_sentence_cues(text, pos, m.end()))
        pos = m.end()
    cues.extend(_sentence_cues(text, pos, len(text)))
    return cues


def _sentence_cues(text: str, a: int, b: int) -> list[Cue]:
    lines = [(a + s, a + e) for s, e in chunk_spans(text[a:b], limit=LINE_WIDTH)]
    out = []
    for i in range(0, len(lines), CUE_LINES):
        group = lines[i : i + CUE_LINES]
        out.append(Cue(group[0][0], group[-1][1], tuple(text[s:e] for s, e in group)))
    return out


def subtitle_format(path: str | os.PathLike[str]) -> str:
    """``.srt`` or ``.vtt``, from ``path``'s extension; else :class:`InvalidInputError`."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUBTITLE_FORMATS:
        raise InvalidInputError(
            f"cannot write subtitles to {Path(path).name!r}: use a name ending in .srt or .vtt"
        )
    return suffix


def piece_seconds(audio: bytes, fmt: str, sample_rate: int) -> float:
    """How long one written piece plays: PCM samples at ``sample_rate``, or the MP3's
    frames (what a player plays of it)."""
    if fmt == "mp3":
        samples, rate = mp3_frames(audio)
        return samples / rate if rate else 0.0
    return len(audio) // 2 / sample_rate


def timed_cues(cues: Mapping[int, Cue], seconds: Sequence[float]) -> list[Cue]:
    """``cues`` (by piece: see ``Plan.cues``) with their times, from each piece's length
    in the file; a piece with no cue (a break) moves the next one on."""
    if cues and max(cues) >= len(seconds):
        raise ValueError(f"a cue of piece {max(cues)} but {len(seconds)} pieces")
    out, at = [], 0.0
    for i, length in enumerate(seconds):
        cue = cues.get(i)
        if cue is not None:
            out.append(Cue(cue.start, cue.end, cue.lines, at, at + length))
        at += length
    return out


def _stamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def render_subtitles(cues: Sequence[Cue], fmt: str) -> str:
    """SRT (``.srt``) or WebVTT (``.vtt``) text of ``cues``."""
    sep = "," if fmt == ".srt" else "."
    blocks = ["WEBVTT\n"] if fmt == ".vtt" else []
    for n, cue in enumerate(cues, start=1):
        stamp = f"{_stamp(cue.begins, sep)} --> {_stamp(cue.ends, sep)}"
        blocks.append("\n".join([str(n), stamp, *cue.lines]) + "\n")
    return "\n".join(blocks)


def write_subtitles(path: Path, cues: Sequence[Cue]) -> None:
    """Write ``cues`` to ``path`` (format by extension), whole or not at all."""
    fmt = subtitle_format(path)
    tmp: Path | None = None
    try:
        fd, tmp = temp_beside(path)  # a fresh file, never one planted under a known name
        with os.fdopen(fd, "wb") as f:
            f.write(render_subtitles(cues, fmt).encode("utf-8"))
        install(tmp, path)  # retried while a player holds it; else kept beside it
    except KeptBeside as exc:
        raise InvalidInputError(
            f"cannot replace {path}: another program has it open; the subtitles are in {exc.kept}"
        ) from None
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
