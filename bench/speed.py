"""First sound as the stream is handed it (no network): the first utterance, later ones, and
the vendor demo's way; ``stream()`` and the asyncio faces, and the event loop's longest wait."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

# Imported by run.py, which puts bench/ and tests/ on the path.
from asyncio_ticker import tick
from common import (
    LATENCY,
    PER_CHAR,
    SENTENCE,
    FirstPlay,
    first_sound,
    long_text,
    row,
    vendor_first_sound,
)


def bench_first_sound() -> None:
    import pyttsx3

    from kuhu_driver._text import billed_chars
    from kuhu_driver.testing import KuhuEmulator

    print("first piece handed to the audio stream (emulator 300 ms + 0.5 ms/billed char)")
    probe = FirstPlay()
    text = long_text(20_000)
    with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
        os.environ.update(emu.env())
        os.environ["KUHU_CACHE"] = "off"
        engine = pyttsx3.init("kuhu")
        one = [first_sound(engine, probe, SENTENCE) for _ in range(5)]
        many = [first_sound(engine, probe, text) for _ in range(5)]
        vendor = [vendor_first_sound(emu, text) for _ in range(3)]
        engine.proxy._driver.destroy()
    m1, m2, mv = statistics.median(one), statistics.median(many), statistics.median(vendor)
    row(f"one sentence ({billed_chars(SENTENCE)} billed)", f"{m1 * 1000:.0f} ms", "", None)
    row(f"long text ({billed_chars(text)} billed)", f"{m2 * 1000:.0f} ms", "", None)
    row("ratio long / sentence", f"{m2 / m1:.2f}", "<= 1.1", m2 / m1 <= 1.1)
    row("vendor demo's way (2000 chars, then play)", f"{mv * 1000:.0f} ms", "", None)


def bench_stream() -> None:
    """stream() and astream(): first chunk for a sentence and for a long text, and how
    long the event loop ever waits while astream()/aspeak() work."""
    import asyncio

    import kuhu_driver
    from kuhu_driver._text import billed_chars
    from kuhu_driver.testing import KuhuEmulator

    print("stream() / astream(): first chunk (emulator 300 ms + 0.5 ms/billed char)")
    text = long_text(20_000)

    def first_sync(t: str) -> float:
        t0 = time.monotonic()
        it = kuhu_driver.stream(t)
        next(it)
        took = time.monotonic() - t0
        it.close()
        return took

    async def first_async(t: str) -> float:
        t0 = time.monotonic()
        it = kuhu_driver.astream(t)
        await it.__anext__()
        took = time.monotonic() - t0
        await it.aclose()
        return took

    async def stall_during(work: Callable[[], Any]) -> tuple[float, float]:
        gaps: list[float] = []
        ticker = asyncio.create_task(tick(gaps))  # the ticker examples/ shows users
        t0 = time.monotonic()
        await work()
        took = time.monotonic() - t0
        ticker.cancel()
        return max(gaps) - 0.01, took

    async def drain(t: str) -> None:
        async for _ in kuhu_driver.astream(t):
            pass

    with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
        os.environ.update(emu.env())
        os.environ["KUHU_CACHE"] = "off"
        results = {}
        for name, measure in (("stream", first_sync), ("astream", None)):
            for label, t in (("sentence", SENTENCE), ("long", text)):
                if measure is not None:
                    results[name, label] = [measure(t) for _ in range(5)]
                else:
                    results[name, label] = [asyncio.run(first_async(t)) for _ in range(5)]
        stream_stall, stream_took = asyncio.run(stall_during(lambda: drain(text)))
        emu.audio_seconds_per_billed_char = 0.005
        spoken = long_text(1000)
        speak_stall, speak_took = asyncio.run(stall_during(lambda: kuhu_driver.aspeak(spoken)))
    for name in ("stream", "astream"):
        one = statistics.median(results[name, "sentence"])
        many = statistics.median(results[name, "long"])
        row(f"{name}(), one sentence", f"{one * 1000:.0f} ms", "", None)
        row(f"{name}(), long text ({billed_chars(text)} billed)", f"{many * 1000:.0f} ms", "", None)
        row(f"{name}(), ratio long / sentence", f"{many / one:.2f}", "<= 1.1", many / one <= 1.1)
    row(
        f"event loop's longest wait, astream() of the long text ({stream_took:.1f} s)",
        f"{stream_stall * 1000:.1f} ms",
        "< 50 ms",
        stream_stall < 0.05,
    )
    row(
        f"event loop's longest wait, aspeak() of {speak_took:.1f} s of speech",
        f"{speak_stall * 1000:.1f} ms",
        "< 50 ms",
        speak_stall < 0.05,
    )
