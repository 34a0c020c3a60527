"""Helpers shared by the driver tests."""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
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


def resampling_error(
    got: bytes, sent: bytes, from_rate: int, to_rate: int, *, slack: int = 1
) -> float:
    """How far ``got`` (16-bit mono at ``to_rate``) is from ``sent`` (16-bit mono at
    ``from_rate``) resampled by plain linear interpolation, written here apart from the
    code under test: the RMS difference over the RMS signal, at the best alignment
    within 2 ms (a resampler's filter delays the sound by a few samples). A length
    that is not ``sent``'s duration at ``to_rate`` (within ``slack`` frames: more for a
    capture that drops the zero samples) is an error of 1."""
    x = array("h", sent)
    y = array("h", got)
    frames = len(x) * to_rate // from_rate
    if abs(len(y) - frames) > slack or frames < 100:
        return 1.0
    ref = []
    for k in range(frames):
        t = k * from_rate / to_rate
        i = int(t)
        nxt = x[i + 1] if i + 1 < len(x) else x[i]
        ref.append(x[i] + (nxt - x[i]) * (t - i))
    lag = to_rate // 500
    inner = range(lag, min(frames, len(y)) - lag)
    signal = sum(ref[k] * ref[k] for k in inner) or 1.0
    best = min(sum((y[k + d] - ref[k]) ** 2 for k in inner) for d in range(-lag, lag + 1))
    return float((best / signal) ** 0.5)


def fetches_settled(session: Any = None, timeout: float = 10.0) -> None:
    """Wait until no fetch of ``session`` (the default session if None) is running or
    queued, waits for the rate limit included: from then on it can send nothing more."""
    import time

    from kuhu_driver.pipeline import default_session

    synth = (session or default_session()).synthesizer
    deadline = time.monotonic() + timeout
    while True:
        pool = synth._pool
        if pool is None or (pool._idle == len(pool._threads) and pool._queue.empty()):
            return
        assert time.monotonic() < deadline, "fetches still under way"
        time.sleep(0.01)


def kuhu_threads(*names: str) -> list[str]:
    """The live threads whose names start with any of ``names``."""
    return [t.name for t in threading.enumerate() if t.name.startswith(names)]


def wait_until(cond: Any, timeout: float = 10.0, what: str = "the condition") -> None:
    """Poll ``cond()`` every 10 ms until it is true; fail after ``timeout`` seconds."""
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"{what} did not come within {timeout} s"
        time.sleep(0.01)


@contextmanager
def kuhu_engine() -> Iterator[Any]:
    """A pyttsx3 engine on the kuhu driver, made now (so it sees the environment the
    test set) and destroyed when the block ends, so no thread of it stays behind."""
    from pyttsx3.engine import Engine

    import kuhu_driver  # noqa: F401 - registers the driver without the .pth file

    engine = Engine("kuhu")
    try:
        yield engine
    finally:
        engine.proxy._driver.destroy()


def use_emulator(monkeypatch: Any, emu: Any, **more: str) -> None:
    """Point ``KUHU_*`` (and ``more`` variables) at ``emu`` (an emulator here or in a
    process of its own) for the rest of the test."""
    for name, value in {**emu.env(), **more}.items():
        monkeypatch.setenv(name, value)


def espeak_seconds(texts: list[str]) -> float:
    """How long eSpeak NG's own program takes to say ``texts``, piece by piece as the
    driver asks (200 words a minute, Mandarin for Chinese text), counting the samples
    that are not zero, as the capture does: an expectation made without the code under
    test."""
    import subprocess
    import tempfile
    import wave
    from pathlib import Path

    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "e.wav"
        for t in texts:
            for a, b in speech_pieces(t):
                piece = t[a:b]
                lang = "cmn" if any("\u4e00" <= c <= "\u9fff" for c in piece) else "en"
                argv = ["espeak-ng", "-w", str(out), "-s", "200", "-v", lang, "--", piece]
                subprocess.run(argv, check=True, capture_output=True, timeout=30)
                with wave.open(str(out)) as w:
                    pcm = array("h", w.readframes(w.getnframes()))
                    total += sum(1 for x in pcm if x) / w.getframerate()
    return total


def written(capture: Any) -> array[int]:
    """Every sample written from the first sound to the last, zeros included (the test
    audio has none: a zero is silence the player wrote)."""
    capture.read()  # until no new sound comes
    data = capture.path.read_bytes()[capture.offset :]
    samples = array("h", data[: len(data) - len(data) % 2])
    loud = [i for i, x in enumerate(samples) if x]
    assert loud, "nothing was heard"
    return samples[loud[0] : loud[-1] + 1]


def zero_runs(samples: array[int]) -> list[int]:
    runs, n = [], 0
    for x in samples:
        if x == 0:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def recorded(engine: Any, *said: tuple[str, str]) -> Recorder:
    """Every event of ``engine`` while it says each ``(text, name)`` in one round."""
    rec = Recorder()
    rec.connect(engine)
    for text, name in said:
        engine.say(text, name)
    engine.runAndWait()
    return rec
