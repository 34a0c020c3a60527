"""pause() and resume() (audio/_player.py, Session, kuhu_driver.pause/resume), checked
at the paced exact capture (rig 3): the stream held for as long as it was paused, every
sample heard once, in order, and nothing asked for again. How soon the pause is heard is
measured on the real-time rig (audio/test_paced.py, mode ``pause``).

Not a ``timing`` test: the pause is measured against when pause() and resume() were
really called, in samples the device asked for, which a busy machine does not change;
so it runs beside the others."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from helpers import expected_pcm, written, zero_runs
from pyttsx3.engine import Engine
from rig import nonzero

import kuhu_driver
from kuhu_driver import Session
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator

RATE = 22050

#: About 5 s of the emulator's audio (0.08 s a billed character), in three pieces.
TEXT = "这是第一句话。" + "暂停以后还要继续说下去，" * 4 + "最后一句。"


def check_heard_once_with_a_gap(capture: Any, emu: KuhuEmulator, held: dict[str, float]) -> None:
    samples = written(capture)
    expected = expected_pcm(emu, TEXT)
    assert len(expected) / 2 / RATE > 4.5
    # Every sample once, in order: nothing lost at the pause, nothing played twice.
    assert nonzero(samples.tobytes()) == expected
    # The longest silence is the pause, as long as it was held (to a period or so of
    # the device, which asks for 20 ms at a time).
    gap = held["resume"] - held["pause"]
    assert abs(max(zero_runs(samples)) / RATE - gap) < 0.06, (max(zero_runs(samples)), gap)
    # Each piece asked for once: a pause buys nothing again.
    pieces = [TEXT[a:b] for a, b in speech_pieces(TEXT)]
    assert sorted(r.text for r in emu.requests) == sorted(pieces)


def held(
    pause: Any,
    resume: Any,
    after: float = 1.0,
    hold: float = 2.0,
    at: dict[str, float] | None = None,
) -> dict[str, float]:
    """Pause ``after`` seconds from now, resume ``hold`` seconds later (on timers); when
    each was really called, in the dict returned (filled in as they are)."""
    at = {} if at is None else at

    def call(name: str, fn: Any) -> None:
        at[name] = time.monotonic()
        fn()

    threading.Timer(after, call, ("pause", pause)).start()
    threading.Timer(after + hold, call, ("resume", resume)).start()
    return at


def test_an_engine_paused_1_s_in_and_resumed_2_s_later(
    engine: Engine, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    times: list[float] = []
    at: dict[str, float] = {}

    def on_start(name: str) -> None:
        held(lambda: kuhu_driver.pause(engine), lambda: kuhu_driver.resume(engine), at=at)

    engine.connect("started-utterance", on_start)
    engine.connect("finished-utterance", lambda name, completed: times.append(time.monotonic()))
    t0 = time.monotonic()
    engine.say(TEXT, "long")
    engine.runAndWait()
    check_heard_once_with_a_gap(capture, kuhu_emulator, at)
    hold = at["resume"] - at["pause"]
    assert times[0] - t0 > len(expected_pcm(kuhu_emulator, TEXT)) / 2 / RATE + hold


def test_a_session_paused_and_resumed_and_one_that_closes_paused(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    with Session() as session:
        at = held(session.pause, session.resume, after=1.0, hold=1.5)
        session.speak(TEXT)
        assert not session.paused
    check_heard_once_with_a_gap(capture, kuhu_emulator, at)
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
    at: dict[str, float] = {}

    async def main() -> None:
        task = asyncio.create_task(kuhu_driver.aspeak(TEXT))
        await asyncio.sleep(1.0)
        at["pause"] = time.monotonic()
        kuhu_driver.pause()
        await asyncio.sleep(1.0)
        assert not task.done()
        at["resume"] = time.monotonic()
        kuhu_driver.resume()
        await task

    asyncio.run(main())
    samples = written(capture)
    gap = at["resume"] - at["pause"]
    assert abs(max(zero_runs(samples)) / RATE - gap) < 0.06, (max(zero_runs(samples)), gap)
    assert nonzero(samples.tobytes()) == expected_pcm(kuhu_emulator, TEXT)
