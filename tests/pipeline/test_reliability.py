"""Faults survived, limits held, bad input refused: against the emulator and the capture rig."""

from __future__ import annotations

import itertools
import math
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import Recorder, expected_pcm, kuhu_engine, say_numbered, use_emulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401 - registers the driver for in-process engines
from kuhu_driver.errors import InvalidInputError, KuhuError
from kuhu_driver.testing import EmulatorRequest, KuhuEmulator, vendor_billed

FAULT_TURNS = ["500", "reset", "json_error", "truncated", "slow"]


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A short read timeout, so that the 'slow' fault times out quickly."""
    monkeypatch.setenv("KUHU_TIMEOUT", "0.5")


@pytest.mark.parametrize("fallback", ["off", "local"])
def test_faults_on_the_first_k_attempts_are_survived(
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    fast_retries: None,
    monkeypatch: pytest.MonkeyPatch,
    fallback: str,
) -> None:
    """With the local voice ready to cover (the default) or not, every utterance is
    spoken by the cloud: each fault is mended by the utterance's own retries."""
    monkeypatch.setenv("KUHU_FALLBACK", fallback)
    kuhu_emulator.slow_seconds = 1.0
    texts = [f"第{i}句话。" for i in range(30)]
    k_of = {t: i % 3 for i, t in enumerate(texts)}
    turns = itertools.cycle(FAULT_TURNS)
    lock = threading.Lock()

    def plan(rec: EmulatorRequest) -> str | None:
        if rec.attempt <= k_of[rec.text]:
            with lock:
                return next(turns)
        return None

    kuhu_emulator.set_fault_plan(plan)
    with kuhu_engine() as engine:
        rec = Recorder()
        rec.connect(engine)
        say_numbered(engine, texts)
        billed_by_driver = engine.getProperty("billed_chars")
    # All spoken, once each, in order.
    assert rec.utterances() == [
        e
        for i in range(30)
        for e in (("started-utterance", f"u{i}"), ("finished-utterance", f"u{i}", True))
    ]
    assert capture.read() == b"".join(expected_pcm(kuhu_emulator, t) for t in texts)
    # Each text requested exactly k+1 times, and billed once.
    by_text: dict[str, list[str]] = {}
    for r in kuhu_emulator.requests:
        by_text.setdefault(r.text, []).append(r.outcome)
    for t in texts:
        assert len(by_text[t]) == k_of[t] + 1, (t, by_text[t])
        assert by_text[t][-1] == "ok" and by_text[t].count("ok") == 1
    faults_seen = {o for outcomes in by_text.values() for o in outcomes if o != "ok"}
    assert {"fault:500", "fault:reset", "fault:json_error", "fault:truncated"} <= faults_seen
    assert any(o in ("ok-slow", "client-gone") for v in by_text.values() for o in v)
    total = sum(vendor_billed(t) for t in texts)  # the vendor's rule, not ours
    assert kuhu_emulator.billed_total() == total
    assert billed_by_driver == total


def test_dead_server_ends_utterances_in_bounded_time_then_recovers(
    capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = KuhuEmulator().start()
    port, key = emu.port, emu.api_key
    use_emulator(monkeypatch, emu)
    monkeypatch.setenv("KUHU_CACHE", "off")
    from kuhu_driver.api._retry import RetryPolicy

    waits: list[float] = []
    real_delay = RetryPolicy.delay

    def delay(self: RetryPolicy, attempt: int, exc: Any) -> float:
        waits.append(real_delay(self, attempt, exc))
        return waits[-1]

    monkeypatch.setattr(RetryPolicy, "delay", delay)
    with kuhu_engine() as engine:
        emu.stop()  # every request now fails: connection refused
        rec = Recorder()
        rec.connect(engine)
        engine.say("一", "a")
        engine.say("二", "b")
        t0 = time.monotonic()
        engine.runAndWait()
        elapsed = time.monotonic() - t0
        assert rec.utterances() == [
            ("started-utterance", "a"),
            ("error", "a", "TransportError"),
            ("finished-utterance", "a", False),
            ("started-utterance", "b"),
            ("error", "b", "TransportError"),
            ("finished-utterance", "b", False),
        ]
        # Three attempts each (two waits between), and nothing more than those waits: a
        # refused connection fails at once, and no utterance waits for anything else.
        assert len(waits) == 4 and all(w <= 1.0 for w in waits), waits
        assert elapsed < sum(waits) + 0.5, (elapsed, waits)
        with KuhuEmulator(api_key=key, port=port) as back:
            engine.say("回来了", "c")
            engine.runAndWait()
            assert rec.utterances()[-1] == ("finished-utterance", "c", True)
            assert capture.read() == expected_pcm(back, "回来了")


@pytest.mark.timing
@pytest.mark.alone
def test_60_queued_utterances_stay_under_20_requests_a_second(
    remote_emulator: Any, capture: Any
) -> None:
    with kuhu_engine() as engine:
        rec = Recorder()
        rec.connect(engine)
        for i in range(60):
            engine.say(f"{i}", f"n{i}")
        engine.runAndWait()
    assert rec.utterances() == [
        e
        for i in range(60)
        for e in (("started-utterance", f"n{i}"), ("finished-utterance", f"n{i}", True))
    ]
    stats = remote_emulator.stats()
    assert stats["requests"] == 60
    assert stats["rate_limit_breaches"] == 0
    assert stats["max_requests_in_window"] <= 20


CTRL_C_PROGRAM = r"""
import sys, threading, time
import pyttsx3
engine = pyttsx3.init("kuhu")
engine.connect("started-utterance", lambda name: print("started", flush=True))
engine.say("一二三四五六七八九十。" * 20)
try:
    engine.runAndWait()
except KeyboardInterrupt:
    t0 = time.monotonic()
    while threading.active_count() > 1 and time.monotonic() - t0 < 2:
        time.sleep(0.01)
    print("threads", sorted(t.name for t in threading.enumerate()), flush=True)
    raise
"""


@pytest.mark.timing
def test_ctrl_c_during_run_and_wait(kuhu_emulator: KuhuEmulator, pulse: Any) -> None:
    kuhu_emulator.latency = 0.05
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_PROGRAM],
        env={**pulse.env, **kuhu_emulator.env(), "KUHU_CACHE": "off"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    elapsed = time.monotonic() - t0
    assert "threads ['MainThread']" in out, out + err
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0
    assert elapsed < 2.0


def _popen(argv: list[str], **kw: Any) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, **kw)
    # Killed if the test fails before it ends on its own.
    _spawned.append(proc)
    return proc


_spawned: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _reap() -> Iterator[None]:
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


IN_FLIGHT_PROGRAM = r"""
import sys, threading, time
import pyttsx3
engine = pyttsx3.init("kuhu")
engine.say("一二三四五")
if sys.argv[1] == "stop":
    threading.Timer(0.5, engine.stop).start()
print("waiting", flush=True)
try:
    engine.runAndWait()
finally:
    print("returned", time.monotonic(), flush=True)
"""


@pytest.mark.parametrize("how", ["stop", "ctrl-c"])
def test_a_request_in_flight_never_holds_the_program(how: str, pulse: Any) -> None:
    # The server never answers. Before: exit waited for the request, 28 s after Ctrl-C
    # and up to 90 s after stop(). Now nothing we start keeps the interpreter alive.
    with KuhuEmulator() as emu:
        emu.fail_next("silent", "silent", "silent")
        proc = _popen(
            [sys.executable, "-c", IN_FLIGHT_PROGRAM, how],
            env={**pulse.env, **emu.env(), "KUHU_CACHE": "off", "KUHU_FALLBACK": "off"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        deadline = time.monotonic() + 10
        while not emu.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        # In flight: the server has the request and will never answer it.
        assert [(r.outcome, r.finished) for r in emu.requests] == [("fault:silent", None)]
        if how == "ctrl-c":
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    assert "returned" in out, err
    assert elapsed < 2.0, err
    if how == "ctrl-c":
        assert "KeyboardInterrupt" in err
    else:
        assert proc.returncode == 0, err


@pytest.mark.parametrize("out", [False, True])
def test_ctrl_c_with_a_request_in_flight_ends_kuhu_say_within_2_s(
    out: bool, pulse: Any, tmp_path: Any
) -> None:
    target = tmp_path / "book.wav"
    with KuhuEmulator() as emu:
        emu.fail_next("silent", "silent", "silent")
        proc = _popen(
            [
                sys.executable,
                "-m",
                "kuhu_driver",
                "一二三四五",
                *(["--out", str(target)] if out else []),
            ],
            env={**pulse.env, **emu.env(), "KUHU_CACHE": "off", "KUHU_FALLBACK": "off"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 10
        while not emu.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        # In flight: the server has the request and will never answer it.
        assert [(r.outcome, r.finished) for r in emu.requests] == [("fault:silent", None)]
        time.sleep(0.2)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert elapsed < 2.0
    assert list(tmp_path.iterdir()) == []  # no output and no partial file


# -- bad input ---------------------------------------------------------------------------


@pytest.fixture
def shared(pulse: Any) -> Iterator[tuple[KuhuEmulator, Engine]]:
    """One emulator and engine for all the hypothesis examples of one test (an engine
    per example would make them slow), its sound to the capture rig. Each test gets its
    own, so no test sees what another set (``SHARED_WITHIN_A_TEST``)."""
    alsa = {name: pulse.capture_env[name] for name in ("HOME", "XDG_RUNTIME_DIR")}
    with KuhuEmulator() as emu, pytest.MonkeyPatch.context() as mp:
        use_emulator(mp, emu, **alsa)
        mp.setenv("KUHU_CACHE", "off")
        engine = Engine("kuhu")
        yield emu, engine
        engine.proxy._driver.destroy()


#: The ``shared`` fixture is made once per test, not per example, on purpose.
SHARED_WITHIN_A_TEST = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def _round(engine: Engine, *queue: tuple[str, Any]) -> Recorder:
    """Run one round; ``queue`` holds ('say', text) and ('set', (name, value)) steps."""
    rec = Recorder()
    errors: list[BaseException] = []
    tokens = [engine.connect(t, rec._cb(t)) for t in ("started-utterance", "finished-utterance")]
    tokens.append(engine.connect("error", lambda name, exception: errors.append(exception)))
    try:
        for kind, arg in queue:
            if kind == "say":
                engine.say(arg, "x")
            else:
                engine.setProperty(*arg)
        engine.say("标记", "marker")
        engine.runAndWait()
    finally:
        for tok in tokens:
            engine.disconnect(tok)
    rec.errors = errors  # type: ignore[attr-defined]
    return rec


odd_text = st.one_of(
    st.sampled_from(["", "   ", "\n\t ", "\x00\x01\x02", "😀🎉", "a\ud800b", "\ud83d", "\u200b"]),
    st.none(),
    st.integers(),
    st.floats(),
    st.binary(max_size=8),
    st.lists(st.text(max_size=3), max_size=2),
    st.text(st.characters(categories=["Cc", "Cs", "So", "Zs", "Mn"]), max_size=12),
    st.text(max_size=40),  # any mix of scripts
)


@SHARED_WITHIN_A_TEST
@given(text=odd_text)
def test_any_text_is_spoken_or_refused_and_the_loop_goes_on(
    shared: tuple[KuhuEmulator, Engine], text: Any
) -> None:
    emu, engine = shared
    emu.reset_log()
    rec = _round(engine, ("say", text))
    assert rec.utterances()[-2:] == [
        ("started-utterance", "marker"),
        ("finished-utterance", "marker", True),
    ]
    mine = [e for e in rec.utterances() if e[1] == "x"]
    if mine:  # pyttsx3 itself drops None and blank text before it reaches us
        assert mine[0] == ("started-utterance", "x") and len(mine) == 2
        if mine[1] == ("finished-utterance", "x", False):
            assert len(rec.errors) == 1 and isinstance(rec.errors[0], KuhuError)  # type: ignore[attr-defined]
    # Nothing invalid was sent, or billed.
    assert all(r.outcome == "ok" for r in emu.requests), [r.outcome for r in emu.requests]


def test_a_megabyte_of_text_is_refused_before_any_request(
    shared: tuple[KuhuEmulator, Engine],
) -> None:
    emu, engine = shared
    emu.reset_log()
    for huge in ("字" * 1_000_000, "x" * 1_000_000):
        rec = _round(engine, ("say", huge))
        assert rec.utterances()[:2] == [
            ("started-utterance", "x"),
            ("finished-utterance", "x", False),
        ]
        (err,) = rec.errors  # type: ignore[attr-defined]
        assert isinstance(err, InvalidInputError) and "KUHU_MAX_BILLED" in str(err)
    assert [r.text for r in emu.requests] == ["标记", "标记"]


odd_value = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400),
    st.text(max_size=6),
    st.none(),
    st.booleans(),
    st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000, 11025]),
)
LIMITS = {"rate": (100, 400), "volume": (0.0, 1.0), "pitch": (0.5, 2.0)}


@SHARED_WITHIN_A_TEST
@given(name=st.sampled_from(["rate", "volume", "pitch", "voice", "sample_rate"]), value=odd_value)
def test_any_property_value_is_clipped_or_refused(
    shared: tuple[KuhuEmulator, Engine], name: str, value: Any
) -> None:
    emu, engine = shared
    emu.reset_log()
    before = engine.getProperty(name)
    rec = _round(engine, ("set", (name, value)))
    after = engine.getProperty(name)
    try:
        assert rec.utterances()[-1] == ("finished-utterance", "marker", True)
        errors = rec.errors  # type: ignore[attr-defined]
        if errors:
            assert after == before
            assert isinstance(errors[0], KuhuError) and isinstance(errors[0], ValueError)
        elif name in LIMITS:
            low, high = LIMITS[name]
            assert low <= after <= high and not math.isnan(after)
        assert all(r.outcome == "ok" for r in emu.requests)
    finally:
        engine.setProperty(name, before)
        engine.runAndWait()


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        (["json_error"] * 3, "ServerError"),
        (["json403"], "AuthError"),
        (["html"], "BadResponseError"),
        (["text"], "BadResponseError"),
        (["empty"] * 3, "TruncatedResponseError"),
        (["truncated"] * 3, "TruncatedResponseError"),
        (["huge"], "BadResponseError"),
    ],
)
def test_answers_that_are_not_audio_are_never_played(
    kuhu_emulator: KuhuEmulator, capture: Any, faults: list[str], error: str
) -> None:
    with kuhu_engine() as engine:
        rec = Recorder()
        rec.connect(engine)
        kuhu_emulator.fail_text("坏", *faults)
        engine.say("坏", "bad")
        engine.say("好", "good")
        engine.runAndWait()
    assert rec.utterances() == [
        ("started-utterance", "bad"),
        ("error", "bad", error),
        ("finished-utterance", "bad", False),
        ("started-utterance", "good"),
        ("finished-utterance", "good", True),
    ]
    assert capture.read() == expected_pcm(kuhu_emulator, "好")
