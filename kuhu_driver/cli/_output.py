"""What kuhu-say writes for people: the voice table, progress bars, the cost line."""

from __future__ import annotations

import json
import logging
import sys
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from .._text import one_line, yuan
from ..api import VOICES


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, width: int) -> str:
    return s + " " * (width - _width(s))


def _can_show(out: TextIO, sample: str) -> bool:
    try:
        sample.encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def list_voices(out: TextIO, *, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "id": v.id,
                "name": v.name,
                "scenes": list(v.scenes),
                "languages": list(v.languages),
                "gender": v.gender,
                "age": v.age,
            }
            for v in VOICES
        ]
        # Where the output's encoding cannot hold Chinese (a cp1252 pipe), \\uXXXX
        # escapes keep the JSON valid and lossless.
        json.dump(rows, out, ensure_ascii=not _can_show(out, "小婉"), indent=2)
        out.write("\n")
        return
    table = [("id", "name", "scenes", "languages", "gender")]
    for v in VOICES:
        gender = " ".join(x for x in (v.gender, v.age) if x) or "-"
        table.append((v.id, v.name, "、".join(v.scenes), ",".join(v.languages), gender))
    widths = [max(_width(row[i]) for row in table) for i in range(5)]
    for row in table:
        out.write("  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
        out.write("\n")


class Progress:
    """A progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        filled = int(30 * done / total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def piece_progress(label: str, pieces: int) -> Callable[[int], None] | None:
    """Progress for long input (more than one piece), on a terminal only."""
    if pieces < 2:
        return None
    bar = Progress(label)
    bar(0, pieces)
    return lambda i: bar(i + 1, pieces)


def cost_summary(sent: int, from_cache: int, reused: int, shared: int = 0) -> None:
    """What this run cost, and what it did not have to buy again (on stderr)."""
    saved = from_cache + reused + shared
    line = f"billed {sent} characters ({yuan(sent):.4f} yuan) this run"
    if saved:
        parts = []
        if from_cache:
            parts.append(f"{from_cache} from the cache")
        if reused:
            parts.append(f"{reused} kept from an earlier run")
        if shared:
            parts.append(f"{shared} shared with an identical piece in flight")
        line += f"; {saved} ({yuan(saved):.4f} yuan) not bought again: " + ", ".join(parts)
    tell(f"kuhu-say: {line}")


#: kuhu-say's messages to the person running it, on stderr: logging, as everywhere in the
#: package; :func:`console` gives this logger its handler while ``main()`` runs.
say = logging.getLogger("kuhu_driver.cli.say")


@contextmanager
def console() -> Iterator[None]:
    """While the command runs: its messages (:func:`tell`) go to stderr as they are."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    say.addHandler(handler)
    say.setLevel(logging.INFO)
    say.propagate = False  # not twice under --verbose's handler on the root
    try:
        yield
    finally:
        say.removeHandler(handler)
        say.propagate = True


def tell(message: str) -> None:
    """One message to the person running kuhu-say (stderr, through :data:`say`)."""
    say.info(message)


def result(line: str) -> None:
    """One line of the command's result (a report, a cost), on stdout for scripts."""
    sys.stdout.write(line + "\n")


def shown(text: str, *, quote: bool = True) -> str:
    """``text`` as we print it: a path or a message whose control characters (a newline,
    a terminal's ESC) are escaped, never obeyed by the terminal or a log reader. A path
    that needed escaping is quoted (``quote``), so that it reads as one."""
    if text.isprintable():
        return text
    return f"'{one_line(text)}'" if quote else one_line(text)
