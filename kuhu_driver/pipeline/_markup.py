"""Markup in text, obeyed: SSML, SAPI's XML and macOS's ``[[…]]`` commands turned into
the text to speak, its silences, its marks and where its voicing changes. Pure: no I/O.

Markup is recognised by its vocabulary (``mode="auto"``): a text that starts with
``<speak``, holds a well-formed element of the sets in ``_VOCABULARY``, or a ``[[slnc N]]``,
``[[rate N]]`` or ``[[volm N]]``. Anything else is plain text, so a ``<`` or ``&`` in a
sentence is just a character. ``mode="ssml"`` parses every text as markup; ``"off"``
none. Once a text is markup, a ``<`` that starts no tag and an ``&`` that starts no
entity stay characters; an element of ours that is badly formed, unclosed or has a bad
value is one :class:`MarkupError` naming the position. Unknown elements are dropped with
one warning; their text is spoken.
"""

from __future__ import annotations

import functools
import logging
import re
from array import array
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import InvalidInputError, MarkupError
from ._tones import Tone, attribute_tone, break_ms, mac_command

logger = logging.getLogger(__name__)

MARKUP_MODES = ("auto", "ssml", "off")

#: Elements whose text is spoken with a change, or that mark or pause it.
_CONTAINERS = frozenset(
    {"speak", "prosody", "say-as", "sub", "p", "s", "voice", "rate", "pitch", "volume"}
)
_EMPTY = frozenset({"break", "mark", "silence", "bookmark"})
_VOCABULARY = _CONTAINERS | _EMPTY
_NAME = r"[A-Za-z_][\w.:-]*"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


class _Patterns(NamedTuple):
    tag: re.Pattern[str]
    attr: re.Pattern[str]
    opening: re.Pattern[str]
    skipped: re.Pattern[str]
    entity: re.Pattern[str]
    mac: re.Pattern[str]
    speaks_like_markup: re.Pattern[str]
    #: The start of an element of ours with an attribute or an end: markup meant, even
    #: if it then turns out malformed (which is then an error, not text read out).
    meant: re.Pattern[str]


@functools.cache
def _patterns() -> _Patterns:
    # Compiled on first use, as the chunker's are: pyttsx3.init("kuhu") imports this
    # module, and compiling them costs it 3 ms (the preloading thread warms them).
    names = "|".join(map(re.escape, sorted(_VOCABULARY, key=len, reverse=True)))
    return _Patterns(
        tag=re.compile(
            rf"<(/?)({_NAME})((?:\s+{_NAME}\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*(/?)>",
            re.ASCII,
        ),
        attr=re.compile(rf"({_NAME})\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')", re.ASCII),
        opening=re.compile(rf"</?({_NAME})", re.ASCII),
        skipped=re.compile(r"<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^>]*>", re.DOTALL),
        entity=re.compile(r"&(?:#(\d{1,7})|#x([0-9A-Fa-f]{1,6})|(lt|gt|amp|quot|apos));"),
        mac=re.compile(r"\[\[\s*(slnc|rate|volm)\b([^\]]*)\]\]"),
        speaks_like_markup=re.compile(rf"<\s*/?\s*({names})\b"),
        meant=re.compile(rf"<({names})(?:\s+[\w:-]+\s*=\s*[\"']|\s*/?>)"),
    )


def compile_markup_patterns() -> None:
    """Compile the parser's patterns now, on a thread that has time for it."""
    parse('<speak>预热<break time="1ms"/></speak>')


@dataclass
class Script:
    """A text as it is to be spoken: ``text`` (what is sent, markup removed), and at
    positions of ``text``: ``breaks`` of silence (ms), ``marks`` (names), ``cuts``
    where a request must end (a break, a mark, a change of voicing, a sentence of
    ``<s>``/``<p>``), and ``tones``, the voicing change from each position on."""

    text: str
    markup: bool = False
    breaks: list[tuple[int, int]] = field(default_factory=list)
    #: ``(position, name, after a break there)``: a mark and a break at one position
    #: keep their order.
    marks: list[tuple[int, str, bool]] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    tones: list[tuple[int, Tone]] = field(default_factory=list)
    #: For each character of ``text``, where what made it begins and ends in the source
    #: text (a character, an entity, a ``<sub>``): two arrays, 16 bytes a character (a
    #: long SSML text is a long save); None when ``text`` is the source.
    source: tuple[array[int], array[int]] | None = None

    def source_span(self, location: int, length: int) -> tuple[int, int]:
        """``(location, length)`` in ``text`` as a span of the source text."""
        if self.source is None or not self.source[0]:
            return location, length
        starts, ends = self.source
        last = len(starts) - 1
        a = starts[min(location, last)]
        b = ends[min(location + length - 1, last)] if length else a
        return a, max(0, b - a)

    def silence_ms(self) -> int:
        return sum(ms for _, ms in self.breaks)


def markup_mode(value: object) -> str:
    """``value`` as a markup mode (``"auto"``, ``"ssml"`` or ``"off"``, any case);
    :class:`InvalidInputError` otherwise."""
    mode = value.strip().lower() if isinstance(value, str) else None
    if mode not in MARKUP_MODES:
        raise InvalidInputError(f"markup must be one of {', '.join(MARKUP_MODES)}, not {value!r}")
    return mode


def looks_like_markup(text: str) -> bool:
    """Whether ``text`` holds markup of the known vocabulary (see the module docstring)."""
    return _xml(text) or _patterns().mac.search(text) is not None


def parse(text: str, mode: str = "auto") -> Script:
    """``text`` as a :class:`Script`: markup obeyed when ``mode`` says so (see the
    module docstring). Raises :class:`MarkupError` for malformed markup."""
    mode = markup_mode(mode)
    if mode == "off":
        return Script(text)
    xml = mode == "ssml" or _xml(text)
    if not xml and mode == "auto" and _patterns().mac.search(text) is None:
        return Script(text)
    return _Parser(text, xml=xml).run()


def _xml(text: str) -> bool:
    """Whether ``text`` is SSML or holds an element of ours, well formed or meant to be."""
    p = _patterns()
    if text.lstrip().startswith("<speak") or p.meant.search(text):
        return True
    return any(
        (t := p.tag.match(text, m.start())) is not None and t.group(2).lower() in _VOCABULARY
        for m in p.speaks_like_markup.finditer(text)
    )


def where(text: str, pos: int) -> str:
    """A position as a reader finds it: character, line and column (from 1)."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"character {pos + 1} (line {line}, column {column})"


@dataclass
class _Open:
    name: str
    at: int  # in the source
    plain: int  # where its text begins in the plain text
    tone: Tone
    alias: str | None = None
    spell: bool = False


class _Parser:
    def __init__(self, source: str, *, xml: bool) -> None:
        self.src = source
        self.xml = xml
        self.out: list[str] = []
        self.starts: array[int] = array("q")  # see Script.source
        self.ends: array[int] = array("q")
        self.script = Script("", markup=True)
        self.stack: list[_Open] = [_Open("", 0, 0, Tone())]
        self.unknown: set[str] = set()
        self.skip_text = 0  # inside a <sub>: its text is replaced by the alias
        self.ahead = dict.fromkeys("<&[" if xml else "[", -1)  # see _next_special

    # -- the text ------------------------------------------------------------------------
    @property
    def pos(self) -> int:
        return len(self.starts)

    def add(self, text: str, at: int, end: int | None = None) -> None:
        """``text`` spoken, from the source at ``at`` (each character its own, or all
        of them made by ``source[at:end]``)."""
        if self.skip_text or not text:
            return
        self.out.append(text)
        n = len(text)
        if end is None:
            self.starts.extend(range(at, at + n))
            self.ends.extend(range(at + 1, at + n + 1))
        else:
            self.starts.extend(array("q", [at]) * n)
            self.ends.extend(array("q", [end]) * n)

    def cut(self) -> None:
        if not self.script.cuts or self.script.cuts[-1] != self.pos:
            self.script.cuts.append(self.pos)

    def set_tone(self, tone: Tone) -> None:
        self.cut()
        tones = self.script.tones
        if tones and tones[-1][0] == self.pos:
            tones.pop()
        if not tones or tones[-1][1] != tone:
            tones.append((self.pos, tone))

    def fail(self, at: int, why: str) -> MarkupError:
        return MarkupError(f"malformed markup at {where(self.src, at)}: {why}", position=at)

    # -- the walk ------------------------------------------------------------------------
    def run(self) -> Script:
        src, i = self.src, 0
        while i < len(src):
            j = self._next_special(i)
            self._plain(i, j)
            if j >= len(src):
                break
            i = self._special(j)
        self._end_sentences("")
        if len(self.stack) > 1:
            top = self.stack[-1]
            raise self.fail(top.at, f"<{top.name}> is never closed")
        if self.unknown:
            logger.warning(
                "markup: dropped elements this driver does not know (their text is spoken): %s",
                ", ".join(sorted(self.unknown)),
            )
        self.script.text = "".join(self.out)
        self.script.source = (self.starts, self.ends)
        return self.script

    def _next_special(self, i: int) -> int:
        """Where the next ``<``, ``&`` or ``[`` is at or after ``i``: each looked for
        again only once passed, so that a long text is read in linear time."""
        n = len(self.src)
        for c, k in self.ahead.items():
            if k < i:
                found = self.src.find(c, i)
                self.ahead[c] = found if found >= 0 else n
        return min(self.ahead.values(), default=n)

    def _plain(self, i: int, j: int) -> None:
        self.add(self.src[i:j], i)

    def _special(self, j: int) -> int:
        """Obey what starts at ``j`` (a tag, an entity, a command); the position after."""
        src = self.src
        if src.startswith("[[", j):
            m = _patterns().mac.match(src, j)
            if m is None:
                self.add("[", j)
                return j + 1
            self._command(m.group(1), m.group(2).strip(), j)
            return m.end()
        if src[j] == "&":
            return self._entity(j)
        if src[j] == "[":
            self.add("[", j)
            return j + 1
        skipped = _patterns().skipped.match(src, j)
        if skipped is not None:
            return skipped.end()
        tag = _patterns().tag.match(src, j)
        if tag is None:
            opening = _patterns().opening.match(src, j)
            if opening is not None and opening.group(1).lower() in _VOCABULARY:
                raise self.fail(j, f"the tag <{opening.group(1)} is not well formed")
            self.add("<", j)  # a "<" in a sentence
            return j + 1
        self._tag(tag, j)
        return tag.end()

    def _entity(self, j: int) -> int:
        m = _patterns().entity.match(self.src, j)
        if m is None:
            self.add("&", j)  # "AT&T": a character
            return j + 1
        dec, hexa, named = m.groups()
        code = int(dec) if dec else int(hexa, 16) if hexa else None
        if code is not None and not (0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF):
            raise self.fail(j, f"{m.group(0)} is no character")
        self.add(chr(code) if code is not None else _NAMED[named], j, m.end())
        return m.end()

    def _command(self, name: str, value: str, at: int) -> None:
        try:
            ms, change = mac_command(name, value)
        except ValueError as exc:
            raise self.fail(at, str(exc)) from None
        if ms is not None:
            self._break(ms)
        if change is not None:  # from here to the end of the enclosing element
            top = self.stack[-1]
            top.tone = top.tone.then(change)
            self.set_tone(top.tone)

    def _break(self, ms: int) -> None:
        self.cut()
        breaks = self.script.breaks
        if breaks and breaks[-1][0] == self.pos:
            breaks[-1] = (self.pos, breaks[-1][1] + ms)
        elif ms > 0:
            breaks.append((self.pos, ms))

    # -- elements ------------------------------------------------------------------------
    def _tag(self, tag: re.Match[str], at: int) -> None:
        closing, name, attr_text, empty = (
            tag.group(1),
            tag.group(2).lower(),
            tag.group(3),
            tag.group(4),
        )
        attrs = {
            k.lower(): self._decode(v if v is not None else w, at)
            for k, v, w in _patterns().attr.findall(attr_text)
        }
        if name not in _VOCABULARY:
            self.unknown.add(name)
            return
        if closing:
            self._close(name, at)
        elif name in _EMPTY:
            self._empty(name, attrs, at)
        elif empty:
            self._sapi_setting(name, attrs, at)
        else:
            self._open(name, attrs, at)

    def _decode(self, value: str, at: int) -> str:
        def one(m: re.Match[str]) -> str:
            dec, hexa, named = m.groups()
            if named:
                return _NAMED[named]
            code = int(dec) if dec else int(hexa, 16)
            if not (0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF):
                raise self.fail(at, f"{m.group(0)} is no character")
            return chr(code)

        return _patterns().entity.sub(one, value)

    def _empty(self, name: str, attrs: dict[str, str], at: int) -> None:
        if name in ("mark", "bookmark"):
            key = "name" if name == "mark" else "mark"
            if key not in attrs:
                raise self.fail(at, f"<{name}> needs {key}=")
            # Not a cut: a mark is timed within its piece, as words are.
            breaks = self.script.breaks
            after = bool(breaks) and breaks[-1][0] == self.pos
            self.script.marks.append((self.pos, attrs[key], after))
            return
        try:
            self._break(break_ms(name, attrs))
        except ValueError as exc:
            raise self.fail(at, str(exc)) from None

    def _sapi_setting(self, name: str, attrs: dict[str, str], at: int) -> None:
        """SAPI's ``<rate speed="2"/>``: the change holds to the end of the enclosing
        element. An empty SSML container is nothing (``<p/>``: a sentence break)."""
        if name in ("rate", "pitch", "volume"):
            top = self.stack[-1]
            top.tone = top.tone.then(self._tone(name, attrs, at))
            self.set_tone(top.tone)
        elif name in ("p", "s"):
            self._sentence_break()

    def _tone(self, name: str, attrs: dict[str, str], at: int) -> Tone:
        try:
            return attribute_tone(name, attrs)
        except ValueError as exc:
            raise self.fail(at, str(exc)) from None

    def _open(self, name: str, attrs: dict[str, str], at: int) -> None:
        parent = self.stack[-1]
        tone = parent.tone
        if name in ("prosody", "voice", "rate", "pitch", "volume"):
            tone = tone.then(self._tone(name, attrs, at))
        alias = None
        if name == "sub":
            if "alias" not in attrs:
                raise self.fail(at, "<sub> needs alias=")
            alias = attrs["alias"]
        if name in ("p", "s"):
            self._sentence_break()
        spell = name == "say-as" and attrs.get("interpret-as") in ("characters", "spell-out")
        self.stack.append(_Open(name, at, self.pos, tone, alias, spell))
        if tone != parent.tone:
            self.set_tone(tone)
        if alias is not None:
            self.skip_text += 1

    def _close(self, name: str, at: int) -> None:
        if name in _EMPTY:
            return  # <break></break>: the break was obeyed at its opening
        self._end_sentences(name)
        top = self.stack[-1]
        if top.name != name:
            opened = f"<{top.name}> opened at {where(self.src, top.at)}" if top.name else None
            raise self.fail(at, f"</{name}> closes {opened or 'nothing'}")
        self.stack.pop()
        if name == "sub":
            self.skip_text -= 1
            self.add(top.alias or "", top.at, at + len(f"</{name}>"))
        elif top.spell:
            self._spell(top)
        elif name in ("p", "s"):
            self._sentence_break()
        if self.stack[-1].tone != top.tone:
            self.set_tone(self.stack[-1].tone)

    def _end_sentences(self, closing: str) -> None:
        """``<p>`` and ``<s>`` left open end where their parent does (as in HTML)."""
        while self.stack[-1].name in ("p", "s") and self.stack[-1].name != closing:
            top = self.stack.pop()
            self._sentence_break()
            if self.stack[-1].tone != top.tone:
                self.set_tone(self.stack[-1].tone)

    def _sentence_break(self) -> None:
        if self.out and not self.out[-1][-1:].isspace():
            end = self.ends[-1]
            self.add(" ", end, end)  # at a piece's edge: never sent
        self.cut()

    def _spell(self, top: _Open) -> None:
        """``<say-as interpret-as="characters">``: each character on its own."""
        text = "".join(self.out)
        part = text[top.plain :]
        if not part:
            return
        spelt: list[str] = []
        starts, ends = array("q"), array("q")
        for k, ch in enumerate(part):
            copies = 2 if k and not ch.isspace() and not part[k - 1].isspace() else 1
            if copies == 2:
                spelt.append(" ")  # made by the character it stands before
            spelt.append(ch)
            starts.extend(array("q", [self.starts[top.plain + k]]) * copies)
            ends.extend(array("q", [self.ends[top.plain + k]]) * copies)
        self.out = [text[: top.plain], "".join(spelt)]
        del self.starts[top.plain :], self.ends[top.plain :]
        self.starts.extend(starts)
        self.ends.extend(ends)
