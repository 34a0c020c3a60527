"""Helpers shared by the driver tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator

TOPICS = ("started-utterance", "started-word", "finished-utterance", "error")


def expected_pcm(
    emu: KuhuEmulator,
    text: str,
    *,
    voice: str = DEFAULT_VOICE.id,
    sample_rate: int = 22050,
    volume: int = 50,
    rate: float = 1.0,
    pitch: float = 1.0,
) -> bytes:
    """The bytes the driver must play for ``text``: the emulator's PCM of each piece."""
    return b"".join(
        emu.render(
            piece,
            voice=voice,
            format="pcm",
            sample_rate=sample_rate,
            volume=volume,
            rate=rate,
            pitch=pitch,
        )
        for piece in (text[a:b] for a, b in speech_pieces(text))
    )


@dataclass
class Recorder:
    """Every pyttsx3 event, with the thread it ran on."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)

    def connect(self, engine: Any) -> None:
        for topic in TOPICS:
            engine.connect(topic, self._cb(topic))

    def _cb(self, topic: str) -> Any:
        def cb(**kw: Any) -> None:
            self.threads.add(threading.get_ident())
            if topic == "started-word":
                self.events.append((topic, kw["name"], kw["location"], kw["length"]))
            elif topic == "finished-utterance":
                self.events.append((topic, kw["name"], kw["completed"]))
            elif topic == "error":
                self.events.append((topic, kw["name"], type(kw["exception"]).__name__))
            else:
                self.events.append((topic, kw["name"]))

        return cb

    def topics(self, name: str | None = None) -> list[str]:
        return [e[0] for e in self.events if name is None or e[1] == name]

    def utterances(self) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] != "started-word"]


def say_numbered(engine: Any, texts: list[str]) -> None:
    """Queue each text as utterance ``u0``, ``u1``, … and run the engine until done."""
    for i, t in enumerate(texts):
        engine.say(t, f"u{i}")
    engine.runAndWait()


def numbered(sentence: str, n: int) -> str:
    """``n`` sentences that differ by their number: a long text whose pieces are all
    different requests (identical pieces in flight at once are bought once)."""
    return "".join(f"第{i}句：{sentence}" for i in range(1, n + 1))


def utterance_events(rec: Recorder, name: str, fell_back: bool) -> list[tuple[Any, ...]]:
    """The events of utterance ``name``, with a ``CloudFallback`` notice if it fell back."""
    middle = [("error", name, "CloudFallback")] if fell_back else []
    return [("started-utterance", name), *middle, ("finished-utterance", name, True)]


#: The voice id of 小婉, a voice every table lists (its name is looked up in tests).
XIAOWAN = "v3-voice-b197c9912001439d890cf2a5a0b29226"


def synth_for(emu: Any) -> Any:
    """A synthesizer of ``emu``: no cache, no local voice (every request reaches it)."""
    from kuhu_driver._config import resolve_settings
    from kuhu_driver.pipeline import Synthesizer

    settings = resolve_settings(api_key=emu.api_key, api_url=emu.url, cache=False, fallback="off")
    return Synthesizer.from_settings(settings)


def cue_times(subtitles: str) -> list[tuple[float, float]]:
    """Each cue's start and end in seconds, read from SRT or VTT text (our own reading
    of the format, not the library's)."""
    out = []
    for line in subtitles.splitlines():
        if "-->" in line:
            a, b = (part.strip().replace(",", ".") for part in line.split("-->"))
            out.append((_seconds(a), _seconds(b)))
    return out


def cue_texts(subtitles: str) -> list[str]:
    """Each cue's text, its lines joined (Chinese: no space between them)."""
    out = []
    for block in subtitles.strip().split("\n\n"):
        lines = block.splitlines()
        timed = [i for i, line in enumerate(lines) if "-->" in line]
        if timed:
            out.append("".join(lines[timed[0] + 1 :]))
    return out


def _seconds(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
