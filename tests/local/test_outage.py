"""An outage paid once: a whole service down (resets, 500s, or never answering, probes
included) costs the first utterance its attempts or its wait, the next ones nothing, and
a background probe brings the cloud voice back within seconds of the server; a slow
server costs each utterance at most KUHU_CLOUD_WAIT. Main suite only: the breaker is
pure Python, its unit test and the fallback tests run on every CPython of the matrix."""

from __future__ import annotations

import time
from typing import Any

import pytest
from helpers import Recorder, expected_pcm, utterance_events
from pyttsx3.engine import Engine
from rig import nonzero

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver.local import CloudBreaker
from kuhu_driver.testing import KuhuEmulator


@pytest.fixture(autouse=True)
def _fallback_as_users_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUHU_FALLBACK")  # the default: on


def texts_asked(emu: KuhuEmulator) -> list[str]:
    """The texts of the requests the emulator saw, probes (no text) left out."""
    return [r.text for r in emu.requests if r.text]


def wait_closed(breaker: CloudBreaker | None, within: float) -> float:
    """Seconds until ``breaker`` closed (it must, within ``within``)."""
    assert breaker is not None
    began = time.monotonic()
    while breaker.is_open:
        assert time.monotonic() - began < within, "the breaker stayed open"
        time.sleep(0.02)
    return time.monotonic() - began


@pytest.mark.parametrize("outage", ["reset", "500", "silent"])
def test_an_outage_is_paid_once_and_the_cloud_is_used_again_once_it_answers(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any, outage: str
) -> None:
    rec = Recorder()
    rec.connect(engine)
    kuhu_emulator.outage = outage  # the whole service: probes fail too
    engine.say("断了。", "down")  # spends its attempts (or its wait): the breaker opens
    engine.runAndWait()
    breaker = engine.proxy._driver._synth.breaker
    assert breaker.is_open
    asked = len(texts_asked(kuhu_emulator))
    engine.say("还断着。", "still")  # straight to the local voice: nothing sent
    engine.runAndWait()
    assert len(texts_asked(kuhu_emulator)) == asked
    kuhu_emulator.outage = None
    # The background probe finds the cloud back (one probe a second, 2 s each at most).
    assert wait_closed(breaker, within=4.0) <= 3.5
    assert breaker.probes >= 1
    engine.say("回来了。", "back")
    engine.runAndWait()
    assert rec.utterances() == [
        *utterance_events(rec, "down", True),
        *utterance_events(rec, "still", True),
        *utterance_events(rec, "back", False),
    ]
    assert asked <= 3 and "还断着。" not in texts_asked(kuhu_emulator)
    # Probes bill nothing: only the texts asked for were billed.
    assert kuhu_emulator.billed_total() == 7  # 3 Han characters at 2, a full stop at 1
    back = nonzero(expected_pcm(kuhu_emulator, "回来了。"))
    assert capture.read()[-len(back) :] == back


@pytest.mark.realtime
@pytest.mark.parametrize("fault", ["reset", "silent"])
def test_an_outage_that_resets_or_hangs_is_heard_at_once_and_the_cloud_comes_back(
    pulse: Any, fault: str
) -> None:
    """The service down for 8 s, resetting connections or accepting them and never
    answering: the first utterance within 2 s (its retries or its wait, then the local
    voice), the next within 0.5 s (the breaker is open), and the cloud's voice back
    within 5 s of the server (a background probe, every second)."""
    from rig import run_heard

    out, rec = run_heard(pulse, f"outage-{fault}", env={"KUHU_FALLBACK": "local"})
    heard = [rec.time_of(i) for i in rec.sound()]
    firsts = [next(t for t in heard if t >= t_run) - t_run for t_run in out["rounds"]]
    assert firsts[0] < 2.0, firsts
    assert max(firsts[1:3]) < 0.5, firsts
    fell_back = {e[2] for e in out["events"] if e[1] == "error"}
    assert {"down0", "down1", "down2"} <= fell_back
    back = next(
        e[0]
        for e in out["events"]
        if e[1] == "start" and e[2].startswith("up") and e[2] not in fell_back
    )
    assert out["restart"] is not None and back - out["restart"] < 5.0
    # While it was down, no utterance but the first few spent attempts on it.
    asked = {r[0] for r in out["requests"] if r[0]}
    assert asked <= {"第0句话。", "第1句话。", "第2句话。", f"恢复{len(out['rounds']) - 4}。"}


@pytest.mark.timing
@pytest.mark.realtime
def test_a_server_that_takes_5_s_is_heard_within_3_s_each_time(pulse: Any) -> None:
    """However slow the server has been, no piece waits past KUHU_CLOUD_WAIT (2.5 s)
    before the local voice speaks it."""
    from rig import run_heard

    out, rec = run_heard(pulse, "slow", env={"KUHU_FALLBACK": "local"})
    heard = [rec.time_of(i) for i in rec.sound()]
    firsts = [next(t for t in heard if t >= t_run) - t_run for t_run in out["rounds"]]
    assert max(firsts) < 3.0, firsts
