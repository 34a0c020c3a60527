"""pause() and resume() (audio/_player.py, Session, kuhu_driver.pause/resume), checked
at the paced exact capture (rig 3): the stream held for as long as it was paused, every
sample heard once, in order, and nothing asked for again. How soon the pause is heard is
measured on the real-time rig (audio/test_paced.py, mode ``pause``)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from helpers import expected_pcm, written, zero_runs
from pyttsx3.engine import Engine
from rig import nonzero

import kuhu_driver
from kuhu_driver import Session
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator

RATE = 22050

pytestmark = pytest.mark.timing  # a 2 s pause is measured in samples of a paced device

#: About 5 s of the emulator's audio (0.08 s a billed character), in three pieces.
TEXT = "这是第一句话。" + "暂停以后还要继续说下去，" * 4 + "最后一句。"


def check_heard_once_with_a_gap(capture: Any, emu: KuhuEmulator, gap: float) -> None:
    samples = written(capture)
    expected = expected_pcm(emu, TEXT)
    assert len(expected) / 2 / RATE > 4.5
    # Every sample once, in order: nothing lost at the pause, nothing played twice.
    assert nonzero(samples.tobytes()) == expected
    # One silence, as long as the pause (each period the device asks for is 20 ms).
    (run,) = [n for n in zero_runs(samples) if n > RATE // 100]
    assert abs(run / RATE - gap) < 0.06, run / RATE
    # Each piece asked for once: a pause buys nothing again.
    pieces = [TEXT[a:b] for a, b in speech_pieces(TEXT)]
    assert sorted(r.text for r in emu.requests) == sorted(pieces)


def held(pause: Any, resume: Any, after: float = 1.0, hold: float = 2.0) -> None:
    """Pause ``after`` seconds from now, resume ``hold`` seconds later (on timers)."""
    threading.Timer(after, pause).start()
    threading.Timer(after + hold, resume).start()


def test_an_engine_paused_1_s_in_and_resumed_2_s_later(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    times: list[float] = []

    def on_start(name: str) -> None:
        held(lambda: kuhu_driver.pause(engine), lambda: kuhu_driver.resume(engine))

    engine.connect("started-utterance", on_start)
    engine.connect("finished-utterance", lambda name, completed: times.append(time.monotonic()))
    t0 = time.monotonic()
    engine.say(TEXT, "long")
    engine.runAndWait()
    check_heard_once_with_a_gap(capture, kuhu_emulator, 2.0)
    assert times[0] - t0 > len(expected_pcm(kuhu_emulator, TEXT)) / 2 / RATE + 2.0


def test_a_session_paused_and_resumed_and_one_that_closes_paused(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    with Session() as session:
        held(session.pause, session.resume, after=1.0, hold=1.5)
        session.speak(TEXT)
        assert not session.paused
    check_heard_once_with_a_gap(capture, kuhu_emulator, 1.5)
    # Closed while paused: what is held is dropped, not waited for.
    capture.mark()
    session = Session()
    done = threading.Event()

    def speak() -> None:
        try:
            session.speak(TEXT)
        except kuhu_driver.StoppedError:
            pass
        finally:
            done.set()

    threading.Thread(target=speak).start()
    time.sleep(1.0)
    session.pause()
    t = time.monotonic()
    session.close(wait=0.5)
    assert done.wait(5) and time.monotonic() - t < 2.0


def test_aspeak_is_paused_through_the_default_session(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    async def main() -> None:
        task = asyncio.create_task(kuhu_driver.aspeak(TEXT))
        await asyncio.sleep(1.0)
        kuhu_driver.pause()
        await asyncio.sleep(1.0)
        assert not task.done()
        kuhu_driver.resume()
        await task

    asyncio.run(main())
    samples = written(capture)
    (run,) = [n for n in zero_runs(samples) if n > RATE // 100]
    assert 0.9 < run / RATE < 1.1
    assert nonzero(samples.tobytes()) == expected_pcm(kuhu_emulator, TEXT)
