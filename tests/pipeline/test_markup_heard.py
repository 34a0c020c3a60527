"""Markup obeyed where it is heard: breaks as exact silence at the paced exact capture
(rig 3: every byte the player wrote, paced by the sound server), billed for the words
only; marks as events in order; saved files and subtitles to the sample; a malformed
text one error, nothing sent."""

from __future__ import annotations

import threading
from array import array
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, expected_pcm, recorded, written, zero_runs
from pyttsx3.engine import Engine

from kuhu_driver import MarkupError, Session
from kuhu_driver.audio import parse_wav
from kuhu_driver.testing import KuhuEmulator

RATE = 22050


def test_breaks_of_ssml_sapi_and_macos_are_exact_silence_billed_for_nothing(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = recorded(
        engine,
        ('一<break time="700ms"/>二', "ssml"),
        ('Hello <silence msec="500"/> world', "sapi"),
        ("前[[slnc 300]]后", "mac"),
        ("a < b & c", "plain"),
    )
    assert [e for e in rec.events if e[0] != "started-word"] == [
        e
        for name in ("ssml", "sapi", "mac", "plain")
        for e in (("started-utterance", name), ("finished-utterance", name, True))
    ]
    samples = written(capture)
    # Between the words, the break's samples and nothing else: each piece joins its
    # silence sample for sample (700 ms at 22,050 Hz is 15,435 samples; 1 ms is 22).
    runs = zero_runs(samples)
    assert len(runs) == 3, [n / RATE for n in runs]
    heard_ms = [n / RATE * 1000 for n in runs]
    assert all(abs(h - ms) <= 1 for h, ms in zip(heard_ms, (700, 500, 300), strict=True)), heard_ms
    words = ["一", "二", "Hello", "world", "前", "后", "a < b & c"]
    assert array("h", [x for x in samples if x]).tobytes() == b"".join(
        expected_pcm(kuhu_emulator, w) for w in words
    )
    # Sent and billed: the words, once each; never the markup, never the silence.
    assert sorted(r.text for r in kuhu_emulator.requests) == sorted(words)
    assert kuhu_emulator.billed_total() == 2 + 2 + 5 + 5 + 2 + 2 + 9


def test_marks_are_events_in_order_with_the_utterances_name(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    marks: list[tuple[str, str]] = []
    engine.connect("mark", lambda name, mark: marks.append((name, mark)))
    engine.connect("started-word", lambda name, location, length: marks.append((name, "w")))
    text = (
        '<speak>你<mark name="a"/>好<break time="100ms"/><bookmark mark="b"/>吗'
        '<mark name="end"/></speak>'
    )
    engine.say(text, "hello")
    engine.runAndWait()
    assert marks == [
        ("hello", "w"),
        ("hello", "a"),
        ("hello", "w"),
        ("hello", "b"),
        ("hello", "w"),
        ("hello", "end"),
    ]
    # started-word points into the text as given, markup and all
    words = [text[e[2] : e[2] + e[3]] for e in rec.events if e[0] == "started-word"]
    assert words == ["你", "好", "吗"]
    assert rec.events[-1] == ("finished-utterance", "hello", True)


def test_a_malformed_text_is_one_error_and_sends_nothing(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = recorded(engine, ('一<break time="700ms"二', "bad"), ("好的。", "good"))
    assert rec.utterances() == [
        ("started-utterance", "bad"),
        ("error", "bad", "MarkupError"),
        ("finished-utterance", "bad", False),
        ("started-utterance", "good"),
        ("finished-utterance", "good", True),
    ]
    assert [r.text for r in kuhu_emulator.requests] == ["好的。"]


def test_the_markup_property_forces_either_way(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    assert engine.getProperty("markup") == "auto"
    engine.setProperty("markup", "off")
    engine.say('一<break time="1s"/>二')
    engine.setProperty("markup", "ssml")
    engine.say("三 &amp; 四")
    engine.runAndWait()
    assert [r.text for r in kuhu_emulator.requests] == ['一<break time="1s"/>二', "三 & 四"]
    errors: list[BaseException] = []
    engine.connect("error", lambda name, exception: errors.append(exception))
    engine.setProperty("markup", "xml")
    engine.runAndWait()
    assert [str(e) for e in errors] == ["markup must be one of auto, ssml, off, not 'xml'"]
    assert engine.getProperty("markup") == "ssml"


def test_a_saved_break_is_exact_in_the_file_and_in_its_subtitles(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    out, srt = tmp_path / "out.wav", tmp_path / "out.srt"
    with Session() as session:
        session.save('第一句。<break time="1234ms"/>第二句。', out, subtitles=srt)
    samples = array("h", parse_wav(out.read_bytes()).data)
    first = expected_pcm(kuhu_emulator, "第一句。")
    second = expected_pcm(kuhu_emulator, "第二句。")
    gap = round(1.234 * RATE)
    assert samples.tobytes() == first + bytes(2 * gap) + second
    cues = srt.read_text(encoding="utf-8").split("\n\n")
    end_first = len(first) / 2 / RATE
    assert f"--> {_srt(end_first)}" in cues[0]
    assert f"{_srt(end_first + gap / RATE)} -->" in cues[1]
    assert kuhu_emulator.billed_total() == 14


def _srt(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def test_a_session_hears_marks_and_a_stream_holds_the_silence(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    heard: list[tuple[str, str]] = []
    with Session(on_mark=lambda m: heard.append((threading.current_thread().name, m))) as s:
        s.speak('一<mark name="m"/>二')
        pcm = b"".join(s.stream('一<break time="10ms"/>二'))
    assert [m for _, m in heard] == ["m"]
    assert pcm == (
        expected_pcm(kuhu_emulator, "一") + bytes(2 * 220) + expected_pcm(kuhu_emulator, "二")
    )
    with Session(markup="off") as s, pytest.raises(MarkupError):
        s.speak('一<break time="x"/>二', markup="ssml")
