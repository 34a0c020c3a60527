"""The module under a real Speech Dispatcher (0.11.4, Debian's): a private server
(tests/speechd_rig.py) whose audio a recorded PulseAudio null sink hears, the module
installed with ``kuhu-say --install-speechd`` and found by the server itself, driven by
``spd-say`` and by Debian's ``speechd`` client as Orca drives it, against the emulator.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rig import RATE, Recorder
from speechd_rig import CLIENT, SYSTEM_PYTHON, PrivateSpeechd

from kuhu_driver import billed_chars
from kuhu_driver.testing import KuhuEmulator

pytestmark = [pytest.mark.realtime]

AUDIO_PER_CHAR = 0.08  # the emulator's default: 0.16 s a Han character


@pytest.fixture
def server(pulse: Any, kuhu_emulator: KuhuEmulator, tmp_path: Path) -> Iterator[PrivateSpeechd]:
    import os

    sd = PrivateSpeechd(tmp_path, pulse, dict(os.environ))
    installed = sd.install()
    assert "spd-say -o kuhu" in installed.stderr
    sd.start()
    yield sd
    sd.stop()


def heard_span(rec: Recorder) -> tuple[float, float]:
    """When the first and the last loud sample were heard."""
    loud = rec.sound()
    assert loud, "nothing was heard"
    return rec.time_of(loud[0]), rec.time_of(loud[-1])


def orca(sd: PrivateSpeechd, mode: str, text: str) -> dict[str, Any]:
    proc = subprocess.run(
        [SYSTEM_PYTHON, CLIENT, mode],
        input=text,
        env=sd.client_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def sent_seconds(emu: KuhuEmulator, text: str) -> float:
    """The audio of ``text`` as the server hands it over (NFKC: "，" arrives as ",")."""
    return emu.pcm_duration(unicodedata.normalize("NFKC", text))


@pytest.mark.timing  # heard within 50-150 ms
def test_spd_say_is_heard_whole_and_a_second_one_right_after_the_server_answers(
    server: PrivateSpeechd, kuhu_emulator: KuhuEmulator, pulse: Any
) -> None:
    kuhu_emulator.latency = 0.3
    rec = Recorder(pulse)
    try:
        first = server.spd_say("-w", "你好，世界。")
        assert first.returncode == 0, first.stderr
        time.sleep(0.5)
        t_second = time.monotonic()
        second = server.spd_say("-w", "第二句话。")
        assert second.returncode == 0
        time.sleep(0.3)
    finally:
        rec.stop()
    loud = rec.sound()
    starts = [loud[0], *(b for a, b in itertools.pairwise(loud) if b - a > RATE // 5)]
    assert len(starts) == 2, "two messages, each heard as one"
    heard_second = rec.time_of(starts[1])
    answered = kuhu_emulator.requests[-1].finished
    assert answered is not None
    assert [r.text for r in kuhu_emulator.requests] == ["你好,世界。", "第二句话。"]
    assert heard_second > t_second
    # The module is resident: its connection, cache and limiter warm.
    print(f"second spd-say: heard {(heard_second - answered) * 1000:.0f} ms after the answer")
    assert heard_second - answered < 0.05, heard_second - answered
    span = rec.time_of(loud[-1]) - heard_second
    assert abs(span - sent_seconds(kuhu_emulator, "第二句话。")) < 0.05


@pytest.mark.timing  # heard within 50-150 ms
def test_marks_reach_the_client_in_order_as_their_place_is_heard(
    server: PrivateSpeechd, kuhu_emulator: KuhuEmulator, pulse: Any
) -> None:
    ssml = '<speak>第一句。<mark name="one"/>第二句话。<mark name="two"/>最后。</speak>'
    rec = Recorder(pulse)
    try:
        out = orca(server, "marks", ssml)
    finally:
        rec.stop()
    marks = [e for e in out["events"] if e[1] == "index_marks"]
    assert [m[2] for m in marks] == ["one", "two"]
    start, _ = heard_span(rec)
    before_one = sent_seconds(kuhu_emulator, "第一句。")
    before_two = before_one + sent_seconds(kuhu_emulator, "第二句话。")
    assert abs(marks[0][0] - (start + before_one)) < 0.15, marks[0][0] - start
    assert abs(marks[1][0] - (start + before_two)) < 0.15, marks[1][0] - start
    assert [e[1] for e in out["events"]][-1] == "end"


@pytest.mark.timing  # heard within 50-150 ms
def test_cancel_is_silent_at_once_and_buys_nothing_more(
    server: PrivateSpeechd, kuhu_emulator: KuhuEmulator, pulse: Any
) -> None:
    text = "".join(f"这是第{i}句话，它要说得长一些才好。" for i in range(200))
    rec = Recorder(pulse)
    try:
        out = orca(server, "cancel", text)
        time.sleep(1.0)
    finally:
        rec.stop()
    _, last = heard_span(rec)
    assert last - out["cancel"] < 0.1, last - out["cancel"]
    billed = sum(r.billed for r in kuhu_emulator.requests)
    assert billed < 2500, billed
    assert all(r.arrived < out["cancel"] + 0.05 for r in kuhu_emulator.requests)


def test_pause_and_resume_lose_and_repeat_nothing_and_buy_little_more(
    server: PrivateSpeechd, kuhu_emulator: KuhuEmulator, pulse: Any
) -> None:
    sentences = [f"Sentence number {i} is spoken here." for i in range(12)]
    text = " ".join(sentences)
    rec = Recorder(pulse)
    try:
        out = orca(server, "pause", text)
    finally:
        rec.stop()
    kinds = [e[1] for e in out["events"]]
    assert kinds[0] == "begin" and "pause" in kinds and "resume" in kinds and kinds[-1] == "end"
    # Heard: every sentence once. Paused at the end of a sentence, so the sound either
    # side of the longest silence adds up to the whole text.
    loud = rec.sound()
    k = max(range(len(loud) - 1), key=lambda j: loud[j + 1] - loud[j])
    heard = (loud[k] - loud[0] + loud[-1] - loud[k + 1]) / RATE
    sent = sum(sent_seconds(kuhu_emulator, s) for s in sentences)
    gaps_between_pieces = 0.25 * len(sentences)  # each sentence its own request
    assert sent - 0.05 < heard < sent + gaps_between_pieces, (heard, sent)
    billed = sum(r.billed for r in kuhu_emulator.requests)
    asked = [r.text for r in kuhu_emulator.requests]
    assert billed <= 1.15 * billed_chars(text), (billed, billed_chars(text), asked)


def test_forty_cancelled_key_echoes_then_one_message_heard(
    server: PrivateSpeechd, kuhu_emulator: KuhuEmulator, pulse: Any
) -> None:
    rec = Recorder(pulse)
    try:
        out = orca(server, "storm", "<speak>风暴之后。</speak>")
        time.sleep(0.5)
    finally:
        rec.stop()
    assert [e[1] for e in out["events"]][-1] == "end"
    loud = rec.sound()
    after = [i for i in loud if rec.time_of(i) >= out["said"]]
    span = (after[-1] - after[0]) / RATE
    assert abs(span - sent_seconds(kuhu_emulator, "风暴之后。")) < 0.05


def test_voices_are_listed_and_the_module_exits_with_the_server(
    server: PrivateSpeechd,
) -> None:
    listed = server.spd_say("-L")
    assert "小淳" in listed.stdout and "zh-CN" in listed.stdout and "en-US" in listed.stdout
    assert server.module_pids(), "the module runs while the server does"
    server.stop()
    deadline = time.monotonic() + 10
    while server.module_pids():
        assert time.monotonic() < deadline, "the module outlived its server"
        time.sleep(0.1)
