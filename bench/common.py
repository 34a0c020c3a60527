"""What the bench's sections share: the emulator's timing, the texts, the report's rows, and
when an engine hands its first piece to the stream."""

from __future__ import annotations

import time
from typing import Any

LATENCY = 0.3
PER_CHAR = 0.0005
SENTENCE = "第一句话在这里。"
FILLER = "这是一段很长的文字，用来测试第一声来得有多快。"


def long_text(billed: int) -> str:
    from kuhu_driver._text import billed_chars

    text = SENTENCE
    while billed_chars(text) < billed:
        text += FILLER
    return text


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"  {name:<52} {value:>22}   {target:<16} {verdict}")


class FirstPlay:
    """Records when the first piece is handed to the audio stream (what is heard is
    measured by bench_heard, at the device)."""

    def __init__(self) -> None:
        from kuhu_driver.audio import _miniaudio

        self.t: float | None = None
        original = _miniaudio.MiniaudioPlayer.enqueue

        def enqueue(player: Any, seg: Any) -> None:
            if self.t is None:
                self.t = time.monotonic()
            original(player, seg)

        _miniaudio.MiniaudioPlayer.enqueue = enqueue  # type: ignore[method-assign]

    def reset(self) -> None:
        self.t = None


def first_sound(engine: Any, probe: FirstPlay, text: str) -> float:
    # An utterance on its own: the previous run's requests left the rate-limit window.
    time.sleep(1.2)
    probe.reset()
    token = engine.connect("started-utterance", lambda name: engine.stop())
    t0 = time.monotonic()
    engine.say(text)
    engine.runAndWait()
    engine.disconnect(token)
    assert probe.t is not None
    return probe.t - t0


def vendor_first_sound(emu: Any, text: str) -> float:
    """The vendor demo's way: one 2000-character request, wait for all of it, then play."""
    from kuhu_driver.api import KuhuClient
    from kuhu_driver.pipeline import chunk_text

    with KuhuClient(emu.api_key, api_url=emu.url) as client:
        t0 = time.monotonic()
        first = chunk_text(text, limit=2000)[0]
        client.synthesize(first, format="pcm")  # then it would start to play
        return time.monotonic() - t0
