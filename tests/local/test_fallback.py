"""Never silent: when the cloud cannot answer, the platform's local voice (eSpeak NG here,
through pyttsx3's own driver) speaks, through the same player; the cloud is used again
once it answers. What is heard is checked on the capture rig against the local voice's
own rendering of the same text, so the voice that spoke is known."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    Recorder,
    espeak_seconds,
    expected_pcm,
    kuhu_engine,
    recorded,
    say_numbered,
    utterance_events,
)
from pyttsx3.engine import Engine
from rig import nonzero

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.errors import CloudFallback, KuhuError
from kuhu_driver.local import CloudBreaker, LocalVoice
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator


@pytest.fixture(autouse=True)
def _fallback_as_users_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUHU_FALLBACK")  # the default: on


@pytest.fixture(scope="module")
def local() -> Iterator[LocalVoice]:
    voice = LocalVoice()
    if not voice.available():
        pytest.fail("no local voice: ./dev.sh test installs espeak-ng")
    yield voice
    voice.close()


def assert_local_voice(heard: bytes, texts: list[str], emu: KuhuEmulator) -> None:
    """``heard`` is the local voice saying ``texts``: eSpeak NG varies a little from one
    run to the next (its noise source), so not byte for byte, but as long as its own
    program takes to say them (within 10 %), and none of it is the cloud's signal."""
    expected = espeak_seconds(texts)
    seconds = len(heard) / 2 / 22050
    assert abs(seconds - expected) < 0.1 * expected, (seconds, expected)
    for t in texts:
        assert nonzero(expected_pcm(emu, t))[:64] not in heard


def fresh_engine_round(*utterances: tuple[str, str]) -> Recorder:
    """Say ``(text, name)`` pairs on an engine made now (so it sees the environment the
    test set), run one round, and destroy it; the events heard."""
    with kuhu_engine() as eng:
        return recorded(eng, *utterances)


@pytest.mark.parametrize("fault", ["500", "json403", "reset", "slow"])
def test_the_local_voice_speaks_when_the_cloud_fails(
    engine: Engine,
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    local: LocalVoice,
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if fault == "slow":
        kuhu_emulator.latency = 20.0  # hangs well past the 1.5 s the player waits
    else:
        kuhu_emulator.set_fault_plan(lambda req: fault)
    rec = Recorder()
    rec.connect(engine)
    notices: list[BaseException] = []
    engine.connect("error", lambda name, exception: notices.append(exception))
    texts = ["第一句话。", "第二句。", "third"]
    with caplog.at_level(logging.WARNING, logger="kuhu_driver"):
        say_numbered(engine, texts)
    assert rec.utterances() == [e for i in range(3) for e in utterance_events(rec, f"u{i}", True)]
    assert all(isinstance(n, CloudFallback) for n in notices)
    assert "key" not in str(notices[0]).lower() or kuhu_emulator.api_key not in str(notices[0])
    assert any("local voice spoke instead" in r.getMessage() for r in caplog.records)
    assert_local_voice(capture.read(), texts, kuhu_emulator)
    asked = [r.text for r in kuhu_emulator.requests if r.text]  # probes have none
    if fault in ("500", "reset"):
        # A server that was reached is up, if failing: an utterance asked for spends its
        # own three attempts (never cut short by another's failures), and one that has
        # spent them opens the breaker: the others are asked for only if they were
        # already (they are fetched ahead).
        assert all(asked.count(t) in (0, 3) for t in texts)
        assert asked.count(texts[0]) == 3
    else:
        # No storm: a plainly down server (a refused key) or a silent one opens the breaker;
        # at most the utterances already asked for, then nothing but probes.
        assert len(asked) <= 3 + len(texts)


def test_a_long_text_goes_on_in_the_local_voice_from_the_first_piece_not_heard(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any, local: LocalVoice
) -> None:
    kuhu_emulator.audio_seconds_per_billed_char = 0.005  # 3 s for the 600-character piece
    text = "这是第一句。" + "第二段的内容。" * 45 + "第三段要失败了。" * 2
    pieces = [text[a:b] for a, b in speech_pieces(text)]
    assert len(pieces) == 3
    kuhu_emulator.fail_text(pieces[2], "500", "500", "500")
    rec = Recorder()
    rec.connect(engine)
    engine.say(text, "long")
    engine.runAndWait()
    assert rec.utterances() == utterance_events(rec, "long", True)
    cloud = nonzero(b"".join(kuhu_emulator.render(p, voice=DEFAULT_VOICE.id) for p in pieces[:2]))
    heard = capture.read()
    assert heard.startswith(cloud)  # the cloud's pieces, exactly
    # Then the rest, from the first piece not heard, in the local voice: nothing
    # skipped, nothing said twice.
    assert_local_voice(heard[len(cloud) :], pieces[2:], kuhu_emulator)


def test_stop_silences_the_local_voice_too(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any, local: LocalVoice
) -> None:

    kuhu_emulator.set_fault_plan(lambda req: "json403")
    rec = Recorder()
    rec.connect(engine)
    engine.connect(
        "started-utterance",
        lambda name: threading.Timer(0.5, engine.stop).start() if name == "long" else None,
    )
    engine.say("这是一段很长的话，本地的声音会说很久。" * 6, "long")
    engine.say("这句不应该听到。", "never")
    engine.runAndWait()
    assert rec.utterances() == [
        ("started-utterance", "long"),
        ("error", "long", "CloudFallback"),
        ("finished-utterance", "long", False),
    ]
    heard = len(capture.read()) / 2 / 22050
    assert 0.3 < heard < 0.8  # stopped about 0.5 s in; the 15 s text was not played on


def test_files_do_not_fall_back_unless_asked(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, local: LocalVoice, capture: Any
) -> None:
    kuhu_emulator.set_fault_plan(lambda req: "json403")
    with kuhu_engine() as eng:
        rec = Recorder()
        rec.connect(eng)
        eng.save_to_file("保存。", str(tmp_path / "a.wav"), "file")
        eng.runAndWait()
        assert rec.utterances() == [
            ("started-utterance", "file"),
            ("error", "file", "AuthError"),
            ("finished-utterance", "file", False),
        ]
        assert not (tmp_path / "a.wav").exists()
        eng.setProperty("fallback", "always")
        eng.save_to_file("保存。", str(tmp_path / "b.wav"), "file2")
        eng.runAndWait()
        assert eng.getProperty("fallback") == "always"
    from kuhu_driver.audio import parse_wav

    wav = parse_wav((tmp_path / "b.wav").read_bytes())
    assert_local_voice(nonzero(wav.data), ["保存。"], kuhu_emulator)


def test_with_fallback_off_the_error_is_as_before(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_FALLBACK", "off")
    kuhu_emulator.set_fault_plan(lambda req: "json403")
    rec = fresh_engine_round(("不要本地。", "a"))
    assert rec.utterances() == [
        ("started-utterance", "a"),
        ("error", "a", "AuthError"),
        ("finished-utterance", "a", False),
    ]
    assert capture.read() == b""


def test_no_key_speaks_locally(
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    local: LocalVoice,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUHU_API_KEY")
    rec = fresh_engine_round(("没有密钥。", "a"))
    assert rec.utterances() == utterance_events(rec, "a", True)
    assert kuhu_emulator.requests == []
    assert_local_voice(capture.read(), ["没有密钥。"], kuhu_emulator)


def test_no_local_voice_is_the_old_error_said_once_in_the_log(
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import shutil

    real_which = shutil.which

    def which(cmd: str, *args: Any, **kw: Any) -> str | None:
        return None if cmd == "espeak-ng" else real_which(cmd, *args, **kw)

    monkeypatch.setattr(shutil, "which", which)  # no eSpeak NG
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")  # pyttsx3's helper too
    kuhu_emulator.set_fault_plan(lambda req: "json403")
    with caplog.at_level(logging.WARNING, logger="kuhu_driver"):
        rec = fresh_engine_round(("一。", "a"), ("二。", "b"))
    topics = ["started-utterance", "error", "finished-utterance"]
    assert [e[0] for e in rec.utterances()] == topics * 2
    assert [e for e in rec.utterances() if e[0] == "error"] == [
        ("error", "a", "AuthError"),
        ("error", "b", "AuthError"),
    ]
    hints = [r for r in caplog.records if "no local voice" in r.getMessage()]
    assert len(hints) == 1 and "espeak-ng" in hints[0].getMessage()


@pytest.mark.timing
@pytest.mark.realtime
def test_an_outage_as_heard_first_sound_quickly_and_the_cloud_back(pulse: Any) -> None:
    from rig import run_heard

    out, rec = run_heard(pulse, "outage", env={"KUHU_FALLBACK": "local"})
    heard = [rec.time_of(i) for i in rec.sound()]
    firsts = [next(t for t in heard if t >= t_run) - t_run for t_run in out["rounds"]]
    # First utterance of the outage: the retries, then the local voice, within 2 s.
    assert firsts[0] < 2.0, firsts
    # The next ones go straight to the local voice.
    assert max(firsts[1:3]) < 0.5, firsts
    names = [e[2] for e in out["events"] if e[1] == "start"]
    fell_back = {e[2] for e in out["events"] if e[1] == "error"}
    assert {"down0", "down1", "down2"} <= fell_back
    back = next(n for n in names if n.startswith("up") and n not in fell_back)
    t_back = next(e[0] for e in out["events"] if e[1:] == ["start", back])
    assert t_back - out["restart"] < 5.0
    # After the restart, the new server saw no storm: the probes, then the cloud voice.
    assert len([r for r in out["requests"] if r[0]]) <= 2, out["requests"]


def outcomes_by_text(emu: KuhuEmulator) -> dict[str, list[str]]:
    by_text: dict[str, list[str]] = {}
    for r in sorted(emu.requests, key=lambda r: r.arrived):
        if not r.text:
            continue  # a probe
        by_text.setdefault(r.text, []).append(r.outcome)
    return by_text


@pytest.mark.parametrize("p", [0.3, 0.5])
def test_attempts_failing_at_random_switch_the_voice_only_when_all_three_failed(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any, p: float
) -> None:
    """Each attempt fails (HTTP 500) independently with probability ``p``: an utterance
    that was asked for is spoken by the local voice exactly when its own three attempts
    all failed, never because other utterances' failures cut its retries short. One that
    spent them opens the breaker, so the utterances asked for while it is open (until the
    background probe closes it) go straight to the local voice, sending nothing."""
    import random

    kuhu_emulator.audio_seconds_per_billed_char = 0.02

    def plan(req: Any) -> str | None:
        # Each (text, attempt) draws its own number: independent attempts, and the same
        # draws whatever order concurrent requests arrive in (seed 3 gives both kinds).
        draw = random.Random(f"3-{p}-{req.text}-{req.attempt}").random()
        return "500" if draw < p else None

    kuhu_emulator.set_fault_plan(plan)
    texts = [f"第{i}句。" for i in range(60)]
    rec = Recorder()
    rec.connect(engine)
    say_numbered(engine, texts)
    by_text = outcomes_by_text(kuhu_emulator)
    spent = {t for t in texts if by_text.get(t, []) in ([], ["fault:500"] * 3)}
    for t in texts:  # each asked until its first success, at most three times, or not at all
        assert by_text.get(t, []) in (
            [],
            ["ok"],
            ["fault:500", "ok"],
            ["fault:500"] * 2 + ["ok"],
            *[["fault:500"] * 3],
        ), t
    assert 0 < len(spent) < 40  # both kinds
    assert rec.utterances() == [
        e for i, t in enumerate(texts) for e in utterance_events(rec, f"u{i}", t in spent)
    ]
    heard = capture.read()
    at = 0
    for t in texts:  # the cloud's utterances heard whole, in order; no other sign of them
        cloud = nonzero(expected_pcm(kuhu_emulator, t))
        found = heard.find(cloud, at)
        if t in spent:
            assert nonzero(cloud)[:64] not in heard
        else:
            assert found >= at, t
            at = found + len(cloud)


def test_a_slow_but_healthy_server_is_bought_once_and_heard_in_the_cloud_voice(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers right, but after 2 s: the first utterance is spoken by the
    local voice (1.5 s is as long as it waits for a server it knows nothing of); its
    answer, when it comes, is kept rather than bought again, and the wait fits the
    server from then on, so every later utterance is heard in the cloud voice."""
    monkeypatch.setenv("KUHU_CACHE", "off")
    kuhu_emulator.latency = 2.0
    texts = [f"慢的第{i}句。" for i in range(6)]
    with kuhu_engine() as eng:
        rec = Recorder()
        rec.connect(eng)
        say_numbered(eng, texts)
        assert rec.utterances() == [
            e for i in range(6) for e in utterance_events(rec, f"u{i}", i == 0)
        ]
        assert len(kuhu_emulator.requests) == 6
        before = len(capture.read())
        eng.say(texts[0], "again")  # its late answer was kept: heard, not bought again
        eng.say("一句新的话。", "new")  # waited for as long as this server takes
        eng.runAndWait()
    assert rec.utterances()[13:] == [
        *utterance_events(rec, "again", False),
        *utterance_events(rec, "new", False),
    ]
    assert len(kuhu_emulator.requests) == 7
    assert sorted(r.text for r in kuhu_emulator.requests) == sorted([*texts, "一句新的话。"])
    heard = capture.read()
    for t in texts[1:]:
        assert nonzero(expected_pcm(kuhu_emulator, t)) in heard[:before]
    assert heard[before:] == expected_pcm(kuhu_emulator, texts[0]) + expected_pcm(
        kuhu_emulator, "一句新的话。"
    )


def test_the_breaker_opens_when_the_cloud_is_down_or_a_request_spent_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kuhu_driver.errors import AuthError, ConfigError, ServerError, TransportError
    from kuhu_driver.local import FIRST_PIECE_WAIT

    monkeypatch.setattr(CloudBreaker, "PROBE_EVERY", 0.01)
    answers: list[KuhuError | None] = []
    probed = threading.Semaphore(0)
    release = threading.Event()

    def probe() -> KuhuError | None:
        probed.release()
        release.wait(5)
        release.clear()
        return answers.pop(0) if answers else None

    breaker = CloudBreaker(probe=probe, cloud_wait=2.5)
    busy = ServerError("HTTP 500")
    for _ in range(10):  # failures inside a request's retries: it keeps retrying
        assert breaker.attempt_failed(busy) is True
        assert breaker.attempt_failed(TransportError("reset")) is True
    assert breaker.admit() is None
    assert not probed.acquire(timeout=0.1)  # closed: nothing probes
    breaker.spent(busy, since=time.monotonic())  # a request spent all its attempts: open
    assert isinstance(breaker.admit(), ServerError)
    # Probes run in the background while it is open, one at a time, until one works.
    answers[:] = [TransportError("reset"), AuthError("403"), None]
    for _ in range(3):
        assert probed.acquire(timeout=2)
        assert breaker.is_open
        release.set()
    deadline = time.monotonic() + 2
    while breaker.is_open and time.monotonic() < deadline:
        time.sleep(0.005)
    assert breaker.admit() is None
    assert breaker.probes == 3
    # A server plainly down opens it at once, and no further attempt is made.
    refused = TransportError("refused")
    refused.unreachable = True
    assert breaker.attempt_failed(refused) is False
    assert isinstance(breaker.admit(), TransportError)
    breaker.succeeded(0.1)  # any request's answer closes it
    assert breaker.admit() is None
    release.set()  # a probe that began before the answer ends (and finds it closed)
    # A refused text, a bad certificate: not the local voice's business, never opens.
    from kuhu_driver.errors import BadRequestError, TLSError

    breaker.spent(BadRequestError("400"), since=time.monotonic())
    breaker.spent(TLSError("untrusted"), since=time.monotonic())
    assert breaker.admit() is None
    # A request that began before the cloud was last found working is old news.
    breaker.spent(busy, since=time.monotonic() - 60)
    assert breaker.admit() is None
    # No key: open, and no probe can help.
    breaker.close()
    nokey = CloudBreaker(probe=probe)
    nokey.spent(ConfigError("no key"), since=time.monotonic())
    assert nokey.is_open and not probed.acquire(timeout=0.1)
    # The wait for a piece: at least FIRST_PIECE_WAIT, else fitted to the slowest of the
    # recent answers; at most KUHU_CLOUD_WAIT and the request's own timeout.
    assert breaker.patience(30.0) == FIRST_PIECE_WAIT == 1.5
    breaker.succeeded(1.2)
    assert breaker.patience(30.0) == pytest.approx(1.8)  # 1.5 x the slowest
    breaker.succeeded(5.0)
    assert breaker.patience(30.0) == 2.5  # a 5 s server: the cap
    assert breaker.patience(2.0) == 2.0
    for _ in range(CloudBreaker.RECENT):
        breaker.succeeded(0.2)
    assert breaker.patience(30.0) == 1.5  # the slow answers have aged out
