"""The pyttsx3 contract, against the emulator, with every played byte captured."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import pyttsx3
from helpers import XIAOWAN, Recorder, expected_pcm, say_numbered
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401 - registers the driver for in-process engines
from kuhu_driver.api import DEFAULT_VOICE, find_voice
from kuhu_driver.audio import parse_wav
from kuhu_driver.errors import AuthError, InvalidInputError, KuhuError
from kuhu_driver.pipeline import word_spans
from kuhu_driver.testing import KuhuEmulator


def test_events_name_order_and_words(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    text = "你好 world, it's 3.14!"
    engine.say(text, "greeting")
    engine.runAndWait()
    assert rec.topics() == ["started-utterance"] + ["started-word"] * 5 + ["finished-utterance"]
    assert all(e[1] == "greeting" for e in rec.events)
    words = [text[loc : loc + n] for _, _, loc, n in rec.events[1:-1]]
    assert words == ["你", "好", "world", "it's", "3.14"]
    assert rec.events[-1] == ("finished-utterance", "greeting", True)
    assert capture.read() == expected_pcm(kuhu_emulator, text)


def test_three_queued_utterances_play_in_order_once_each(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    texts = ["第一句。", "第二句话。", "third one"]
    say_numbered(engine, texts)
    assert rec.utterances() == [
        e
        for i in range(3)
        for e in (("started-utterance", f"u{i}"), ("finished-utterance", f"u{i}", True))
    ]
    assert capture.read() == b"".join(expected_pcm(kuhu_emulator, t) for t in texts)
    # Requested once each (prefetching may send them concurrently, in any order).
    assert sorted(r.text for r in kuhu_emulator.requests) == sorted(texts)


def test_set_property_applies_from_its_point_in_the_queue(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    engine.say("one")
    engine.setProperty("rate", 300)
    engine.setProperty("voice", "小婉")
    engine.say("two")
    engine.setProperty("volume", 1.0)
    engine.setProperty("pitch", 1.5)
    engine.say("three")
    engine.runAndWait()
    by_text = {r.text: r.params for r in kuhu_emulator.requests}
    params = [
        (by_text[t]["rate"], by_text[t]["voice"], by_text[t]["volume"], by_text[t]["pitch"])
        for t in ("one", "two", "three")
    ]
    assert params == [
        ("1.0", DEFAULT_VOICE.id, "50", "1.0"),
        ("1.5", XIAOWAN, "50", "1.0"),
        ("1.5", XIAOWAN, "100", "1.5"),
    ]
    assert capture.read() == (
        expected_pcm(kuhu_emulator, "one")
        + expected_pcm(kuhu_emulator, "two", rate=1.5, voice=XIAOWAN)
        + expected_pcm(kuhu_emulator, "three", rate=1.5, voice=XIAOWAN, volume=100, pitch=1.5)
    )


def test_run_and_wait_never_hangs_and_never_returns_early(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    t0 = time.monotonic()
    engine.runAndWait()  # nothing queued
    engine.setProperty("rate", 250)
    engine.runAndWait()  # only a property
    assert time.monotonic() - t0 < 2
    for i in range(20):  # pyttsx3's dummy driver hangs on the second round
        engine.say(f"第{i}轮", f"r{i}")
        engine.runAndWait()
        # Returned only after this round's utterance finished.
        assert rec.events[-1] == ("finished-utterance", f"r{i}", True)
        engine.runAndWait()  # idle rounds in between
    assert capture.read() == b"".join(
        expected_pcm(kuhu_emulator, f"第{i}轮", rate=1.25) for i in range(20)
    )


def test_errors_end_the_utterance_and_the_queue_goes_on(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    errors: list[BaseException] = []
    engine.connect("error", lambda name, exception: errors.append(exception))
    kuhu_emulator.fail_text("bad", "json403")
    engine.say("bad", "a")
    engine.say("good", "b")
    engine.runAndWait()
    assert rec.utterances() == [
        ("started-utterance", "a"),
        ("error", "a", "AuthError"),
        ("finished-utterance", "a", False),
        ("started-utterance", "b"),
        ("finished-utterance", "b", True),
    ]
    assert isinstance(errors[0], AuthError) and isinstance(errors[0], KuhuError)
    assert capture.read() == expected_pcm(kuhu_emulator, "good")


def test_errors_without_an_error_callback_are_logged(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any, caplog: pytest.LogCaptureFixture
) -> None:
    kuhu_emulator.fail_next("json403")
    with caplog.at_level(logging.WARNING, logger="kuhu_driver"):
        engine.say("bad", "a")
        engine.runAndWait()
    assert any("failed" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert capture.read() == b""


def test_callbacks_run_on_the_loop_thread(engine: Engine, capture: Any) -> None:
    rec = Recorder()
    rec.connect(engine)
    engine.say("你好")
    engine.say("再见")
    engine.runAndWait()
    assert rec.threads == {threading.get_ident()}


def test_start_loop_with_callbacks_that_say_and_end(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)

    def on_finish(name: str, completed: bool) -> None:
        if name == "first":
            engine.say("second", "second")
        elif name == "second":
            engine.endLoop()

    engine.connect("finished-utterance", on_finish)
    engine.say("first", "first")
    engine.startLoop()
    assert rec.utterances() == [
        ("started-utterance", "first"),
        ("finished-utterance", "first", True),
        ("started-utterance", "second"),
        ("finished-utterance", "second", True),
    ]
    assert capture.read() == expected_pcm(kuhu_emulator, "first") + expected_pcm(
        kuhu_emulator, "second"
    )


def test_external_loop_with_iterate(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    engine.say("一", "one")
    engine.say("二", "two")
    engine.startLoop(False)
    deadline = time.monotonic() + 10
    while (
        rec.events.count(("finished-utterance", "two", True)) == 0 and time.monotonic() < deadline
    ):
        engine.iterate()
        time.sleep(0.005)
    engine.endLoop()
    assert rec.utterances()[-1] == ("finished-utterance", "two", True)
    assert rec.threads == {threading.get_ident()}
    assert capture.read() == expected_pcm(kuhu_emulator, "一") + expected_pcm(kuhu_emulator, "二")


def test_stop_from_another_thread(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    rec = Recorder()
    rec.connect(engine)
    kuhu_emulator.latency = 1.0  # still synthesizing when stop() comes
    engine.say("慢慢说", "slow")
    engine.say("later", "later")
    threading.Timer(0.3, engine.stop).start()
    t0 = time.monotonic()
    engine.runAndWait()
    assert time.monotonic() - t0 < 1.0
    assert rec.utterances() == [
        ("started-utterance", "slow"),
        ("finished-utterance", "slow", False),
    ]
    assert capture.read() == b""


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".pcm", ".raw"])
def test_save_to_file(
    engine: Engine, kuhu_emulator: KuhuEmulator, tmp_path: Path, capture: Any, ext: str
) -> None:
    rec = Recorder()
    rec.connect(engine)
    text = "保存到文件。" + "这是很长的一段话，" * 300  # several pieces
    out = tmp_path / f"out{ext}"
    engine.save_to_file(text, str(out), "saved")
    engine.runAndWait()
    assert rec.utterances() == [
        ("started-utterance", "saved"),
        ("finished-utterance", "saved", True),
    ]
    # started-word while saving, as pyttsx3's own drivers send it: every word once, in
    # order, between the start and the end.
    topics = rec.topics()
    assert topics[0] == "started-utterance" and topics[-1] == "finished-utterance"
    assert rec.events[1:-1] == [("started-word", "saved", loc, n) for loc, n in word_spans(text)]
    data = out.read_bytes()
    if ext == ".wav":
        wav = parse_wav(data)
        assert (wav.sample_rate, wav.channels, wav.bits) == (22050, 1, 16)
        assert wav.data == expected_pcm(kuhu_emulator, text)
    elif ext == ".mp3":
        assert data[:3] == b"ID3" and data.count(b"ID3") == 1
        assert {r.params["format"] for r in kuhu_emulator.requests} == {"mp3"}
    else:
        assert data == expected_pcm(kuhu_emulator, text)
    assert len(kuhu_emulator.requests) > 2
    assert capture.read() == b""  # saved, not played
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left


def test_save_to_file_into_a_missing_folder_sends_nothing(
    engine: Engine, kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    rec = Recorder()
    rec.connect(engine)
    engine.save_to_file("很长的一段话。" * 50, str(tmp_path / "missing" / "a.wav"), "a")
    (tmp_path / "folder.wav").mkdir()
    engine.save_to_file("也不行。", str(tmp_path / "folder.wav"), "b")  # a folder, not a file
    engine.runAndWait()
    assert [e for e in rec.utterances() if e[0] == "error"] == [
        ("error", "a", "InvalidInputError"),
        ("error", "b", "InvalidInputError"),
    ]
    assert kuhu_emulator.requests == []  # not even fetched ahead


def test_save_to_file_rejects_other_extensions(
    engine: Engine, tmp_path: Path, kuhu_emulator: KuhuEmulator
) -> None:
    errors: list[BaseException] = []
    engine.connect("error", lambda name, exception: errors.append(exception))
    engine.save_to_file("hi", str(tmp_path / "out.ogg"))
    engine.runAndWait()
    assert isinstance(errors[0], InvalidInputError)
    assert ".wav" in str(errors[0]) and ".mp3" in str(errors[0])
    assert kuhu_emulator.requests == []


def test_properties(engine: Engine) -> None:
    assert engine.getProperty("rate") == 200
    assert engine.getProperty("volume") == 0.5
    assert engine.getProperty("pitch") == 1.0
    assert engine.getProperty("voice") == DEFAULT_VOICE.id
    assert engine.getProperty("sample_rate") == 22050
    voices = engine.getProperty("voices")
    assert len(voices) == 34
    xiaochun = next(v for v in voices if v.id == DEFAULT_VOICE.id)
    assert (xiaochun.name, xiaochun.languages) == ("小淳", ["zh-CN", "en-US"])
    for name, value, got in [
        ("rate", 1000, 400),
        ("rate", 10, 100),
        ("rate", 150, 150),
        ("volume", 2.0, 1.0),
        ("volume", -1, 0.0),
        ("pitch", 5, 2.0),
        ("pitch", 0.1, 0.5),
        ("voice", "小婉", XIAOWAN),
        ("sample_rate", 16000, 16000),
    ]:
        engine.setProperty(name, value)
        engine.runAndWait()
        assert engine.getProperty(name) == got, (name, value)
    with pytest.raises(KeyError):
        engine.getProperty("nonsense")


def test_bad_property_values_are_errors_and_change_nothing(engine: Engine) -> None:
    errors: list[BaseException] = []
    engine.connect("error", lambda name, exception: errors.append(exception))
    engine.setProperty("voice", "没有这个人")
    engine.setProperty("sample_rate", 11025)
    engine.setProperty("rate", float("nan"))
    engine.setProperty("nonsense", 1)
    engine.runAndWait()
    assert [type(e).__name__ for e in errors] == [
        "InvalidInputError",
        "InvalidInputError",
        "InvalidInputError",
        "UnknownPropertyError",
    ]
    assert isinstance(errors[0], ValueError) and "没有这个人" in str(errors[0])
    assert isinstance(errors[3], KeyError)
    assert engine.getProperty("voice") == DEFAULT_VOICE.id
    assert engine.getProperty("sample_rate") == 22050
    assert engine.getProperty("rate") == 200


def test_cloned_voice_ids_are_accepted(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    cloned = "v3-voice-" + "ab" * 16
    engine.setProperty("voice", cloned)
    engine.say("克隆")
    engine.runAndWait()
    assert kuhu_emulator.requests[0].params["voice"] == cloned
    assert find_voice(cloned) is None


def test_sample_rate_property_reaches_the_device(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    engine.setProperty("sample_rate", 8000)
    engine.say("八千")
    engine.runAndWait()
    assert kuhu_emulator.requests[0].params["sample_rate"] == "8000"
    assert kuhu_emulator.requests[0].params["format"] == "pcm"
    assert capture.read() == expected_pcm(kuhu_emulator, "八千", sample_rate=8000)


def test_pyttsx3_init_by_name(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    eng = pyttsx3.init("kuhu")
    try:
        eng.say("初始化")
        eng.runAndWait()
        assert capture.read() == expected_pcm(kuhu_emulator, "初始化")
    finally:
        eng.proxy._driver.destroy()


ENDS_AT_ONCE = """
import multiprocessing, os, sys
import pyttsx3

def speak(text):
    engine = pyttsx3.init("kuhu")
    engine.say(text)
    engine.runAndWait()

if __name__ == "__main__":
    how, text = sys.argv[1], sys.argv[2]
    if how == "process":  # one process per utterance; it ends with os._exit
        child = multiprocessing.Process(target=speak, args=(text,))
        child.start()
        child.join()
        sys.exit(child.exitcode)
    speak(text)
    os._exit(0)  # no clean-up at all: what runAndWait waited for is all there is
"""


SAID_AT_THE_END = "说完就退出。"


def end_at_once(how: str, folder: Path, env: dict[str, str] | None = None) -> None:
    """Run ENDS_AT_ONCE: it says SAID_AT_THE_END and ends the way ``how`` names."""
    import os
    import subprocess
    import sys

    program = folder / "ends_at_once.py"
    program.write_text(ENDS_AT_ONCE, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(program), how, SAID_AT_THE_END],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("how", ["process", "os._exit"])
@pytest.mark.parametrize("path", ["pulse", "alsa-pulse"])
def test_heard_whole_through_pulseaudio_when_the_program_ends_at_once(
    how: str, path: str, kuhu_emulator: KuhuEmulator, pulse: Any, tmp_path: Path
) -> None:
    """Heard at the sound server: a client that vanishes loses what it had not played.
    Straight to PulseAudio, or through ALSA's pulse plugin (which holds more audio)."""
    from array import array

    from rig import NO_PULSE, RATE, Recorder, expected_signal

    env = pulse.env if path == "pulse" else {**pulse.env, "PULSE_SERVER": NO_PULSE}
    rec = Recorder(pulse)
    try:
        end_at_once(how, tmp_path, env)
    finally:
        rec.stop()
    per_char = kuhu_emulator.audio_seconds_per_billed_char  # what the program was sent
    sent = array("h", expected_signal([SAID_AT_THE_END], per_char))
    loud_sent = [i for i, x in enumerate(sent) if abs(x) > 300]
    loud_heard = rec.sound()
    assert loud_heard, "nothing was heard"
    heard = (loud_heard[-1] - loud_heard[0]) / RATE
    want = (loud_sent[-1] - loud_sent[0]) / RATE
    assert heard > want - 0.002, (heard, want)  # the end was not cut off (2 ms: 44 samples)


@pytest.mark.parametrize("how", ["process", "os._exit"])
def test_run_and_wait_returns_only_when_the_sound_has_been_played(
    how: str, kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path
) -> None:
    """Heard at the ALSA capture device: what the program had not handed over is lost."""
    end_at_once(how, tmp_path)
    assert capture.read() == expected_pcm(kuhu_emulator, SAID_AT_THE_END)  # heard whole
