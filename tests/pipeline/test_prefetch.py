"""Speed promises that are about order and overlap, not seconds (those are in bench/)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from helpers import Recorder, expected_pcm, kuhu_engine, numbered
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401
from kuhu_driver.driver._driver import PLAY_WINDOW
from kuhu_driver.pipeline import Synthesizer, estimate, speech_pieces
from kuhu_driver.testing import KuhuEmulator

LONG = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 250)  # 11,403 billed


@pytest.mark.timing  # the pieces' requests overlap in time
def test_long_text_first_piece_is_a_sentence_and_the_rest_overlap(
    kuhu_emulator: KuhuEmulator, capture: Any, engine: Engine
) -> None:
    kuhu_emulator.latency = 0.3
    kuhu_emulator.audio_seconds_per_billed_char = 0.002
    engine.say(LONG, "long")
    engine.runAndWait()
    pieces = [LONG[a:b] for a, b in speech_pieces(LONG)]
    assert pieces[0] == "第一句很短。" and len(pieces) >= 5
    reqs = sorted(kuhu_emulator.requests, key=lambda r: r.arrived)
    first = next(r for r in reqs if r.text == pieces[0])
    assert first.arrived - reqs[0].arrived < 0.05  # the short first piece waits for nothing
    # A window of pieces is requested at once (starts 54 ms apart, the rate limit's
    # spacing), not one after another (which would take 6 x 300 ms).
    assert len(reqs) > PLAY_WINDOW
    assert reqs[PLAY_WINDOW - 1].arrived - reqs[0].arrived < 0.6
    assert sorted(r.text for r in reqs) == sorted(pieces)
    assert capture.read() == expected_pcm(kuhu_emulator, LONG)  # played strictly in order


def test_next_utterance_is_fetched_with_its_own_properties_while_this_one_plays(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    kuhu_emulator.latency = 0.3
    with kuhu_engine() as engine:
        engine.say("第一", "a")
        engine.setProperty("rate", 300)
        engine.say("第二", "b")
        engine.runAndWait()
    a, b = sorted(kuhu_emulator.requests, key=lambda r: r.params["text"] != "第一")
    assert (a.params["rate"], b.params["rate"]) == ("1.0", "1.5")
    assert a.finished is not None and b.arrived < a.finished  # overlapped
    assert len(kuhu_emulator.requests) == 2  # the prefetched one was used, not fetched again
    assert capture.read() == expected_pcm(kuhu_emulator, "第一") + expected_pcm(
        kuhu_emulator, "第二", rate=1.5
    )


@pytest.mark.timing  # requests are spaced by the rate limit: one leaves about as stop comes
def test_stop_cancels_pending_requests(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    kuhu_emulator.latency = 0.5
    engine = Engine("kuhu")
    rec = Recorder()
    rec.connect(engine)
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        engine.stop()

    very_long = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 800)
    try:
        engine.say(very_long, "long")
        threading.Timer(0.2, stop).start()
        engine.runAndWait()
    finally:
        # After destroy() no request can start: its pool is shut and its client closed.
        engine.proxy._driver.destroy()
    assert rec.utterances() == [
        ("started-utterance", "long"),
        ("finished-utterance", "long", False),
    ]
    assert all(r.arrived < stopped_at[0] for r in kuhu_emulator.requests)
    # At most the play window was ever fetched ahead, of the text's many pieces.
    assert len(speech_pieces(very_long)) > 2 * PLAY_WINDOW
    assert len(kuhu_emulator.requests) <= PLAY_WINDOW
    assert capture.read() == b""


def test_driver_counts_billed_characters_sent(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    with kuhu_engine() as engine:
        engine.say("你好。Hello!")
        engine.runAndWait()
        assert engine.getProperty("billed_chars") == estimate("你好。Hello!").billed_chars == 11


@pytest.mark.parametrize("agree", [True, False])
def test_a_long_text_asks_for_its_first_piece_before_splitting_the_rest(
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    agree: bool,
) -> None:
    """Splitting 20,000 characters takes milliseconds: the first piece, found in the
    text's first characters, is asked for first. Were the two splits ever to disagree,
    the full one wins and nothing is heard twice or lost."""
    from kuhu_driver.pipeline import _job, _plan

    text = "第一句很短。" + "后面的内容比较长，需要分成好几段来请求。" * 600
    order: list[str] = []
    real_split = speech_pieces

    def split(t: str) -> list[tuple[int, int]]:
        order.append(f"split {len(t)}")
        spans = real_split(t)
        if not agree and len(t) == _plan.QUICK_PREFIX:
            return [(0, spans[0][1] + 1)]  # a first piece the full split will not have
        return spans

    real_submit = Synthesizer.submit

    def submit(self: Synthesizer, fn: Any) -> Any:
        order.append("ask")
        return real_submit(self, fn)

    monkeypatch.setattr(_plan, "speech_pieces", split)  # the first piece's split
    monkeypatch.setattr(_job, "speech_pieces", split)  # the rest's
    monkeypatch.setattr(Synthesizer, "submit", submit)
    kuhu_emulator.audio_seconds_per_billed_char = 0.0002
    engine.say(text, "long")
    engine.runAndWait()
    assert order[:3] == [f"split {_plan.QUICK_PREFIX}", "ask", f"split {len(text)}"]
    assert capture.read() == expected_pcm(kuhu_emulator, text)
