"""Speaking from an asyncio program: the event loop goes on while the voice speaks.

A ticker task ticks every 10 ms while ``kuhu_driver.aspeak()`` speaks; at the end the
program prints, as one JSON line, whether the speech completed and the longest gap
between two ticks (10 ms plus however long the loop was held up). With
``--cancel-after SECONDS`` the speaking task is cancelled then, and the sound stops.

    python examples/asyncio_ticker.py
    python examples/asyncio_ticker.py "很长的一段话……" --cancel-after 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import kuhu_driver

TEXT = "你好。这段话在说的时候，程序的其他部分照样在运行。"


async def tick(gaps: list[float]) -> None:
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.01)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default=TEXT)
    parser.add_argument("--cancel-after", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args()

    gaps: list[float] = []
    ticker = asyncio.create_task(tick(gaps))
    speaking = asyncio.create_task(kuhu_driver.aspeak(args.text))
    report: dict[str, object] = {"completed": True}
    if args.cancel_after is not None:
        done, _ = await asyncio.wait({speaking}, timeout=args.cancel_after)
        if not done:
            report["cancelled_at"] = time.monotonic()
            speaking.cancel()
    try:
        await speaking
    except asyncio.CancelledError:
        report["completed"] = False
    report["ended_at"] = time.monotonic()
    ticker.cancel()
    report["ticks"] = len(gaps)
    report["longest_tick_gap_ms"] = round(max(gaps, default=0.0) * 1000, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    asyncio.run(main())
