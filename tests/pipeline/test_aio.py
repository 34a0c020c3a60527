"""The asyncio faces, ``astream``/``aspeak``/``asave`` (kuhu_driver/pipeline/_aio.py):
the same bytes as their blocking twins, and cancelling stops them at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import expected_pcm, fetches_settled, numbered

import kuhu_driver
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.testing import KuhuEmulator

TEXT = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 12)


async def collect(text: str, **kw: Any) -> list[bytes]:
    return [chunk async for chunk in kuhu_driver.astream(text, **kw)]


def test_astream_yields_what_stream_yields(kuhu_emulator: KuhuEmulator) -> None:
    chunks = asyncio.run(collect(TEXT, sample_rate=8000, rate=300))
    assert len(chunks) > 1
    assert b"".join(chunks) == expected_pcm(kuhu_emulator, TEXT, sample_rate=8000, rate=1.5)
    assert chunks == list(kuhu_driver.stream(TEXT, sample_rate=8000, rate=300))


def test_astream_closed_after_the_first_chunk_sends_nothing_more(
    kuhu_emulator: KuhuEmulator,
) -> None:
    text = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 200)

    async def first_only() -> tuple[bytes, float]:
        it = kuhu_driver.astream(text)
        first = await it.__anext__()
        await it.aclose()
        return first, time.monotonic()

    first, closed = asyncio.run(first_only())
    assert first == expected_pcm(kuhu_emulator, "第一句很短。")
    fetches_settled()  # whatever was under way at the close has ended
    assert [r for r in kuhu_emulator.requests if r.arrived > closed + 0.02] == []
    assert len(kuhu_emulator.requests) <= 2


def test_cancelling_the_task_that_reads_astream_stops_it(kuhu_emulator: KuhuEmulator) -> None:
    kuhu_emulator.latency = 0.3
    text = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 200)

    async def main() -> float:
        task = asyncio.create_task(collect(text))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    cancelled = asyncio.run(main())
    fetches_settled()
    assert [r for r in kuhu_emulator.requests if r.arrived > cancelled + 0.02] == []


def test_errors_reach_the_awaiting_task(kuhu_emulator: KuhuEmulator) -> None:
    with pytest.raises(InvalidInputError):
        asyncio.run(collect("   "))
    kuhu_emulator.set_fault_plan(lambda req: "json403")
    with pytest.raises(kuhu_driver.AuthError):
        asyncio.run(collect("你好。"))


def test_aspeak_is_heard_exactly(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    kuhu_emulator.audio_seconds_per_billed_char = 0.003  # 3 s of audio, 4 pieces
    asyncio.run(kuhu_driver.aspeak(TEXT, volume=0.3))
    assert capture.read() == expected_pcm(kuhu_emulator, TEXT, volume=30)


def test_aspeak_without_a_device_is_one_clear_error_and_nothing_billed(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    from rig import NO_PULSE, make_broken_home

    make_broken_home(tmp_path)
    program = (
        "import asyncio, kuhu_driver\n"
        "try:\n"
        "    asyncio.run(kuhu_driver.aspeak('你好。'))\n"
        "except kuhu_driver.AudioDeviceError as exc:\n"
        "    print('refused:', exc)\n"
    )
    env = {
        **os.environ,
        **kuhu_emulator.env(),
        "HOME": str(tmp_path),
        "PULSE_SERVER": NO_PULSE,
        "KUHU_AUDIO": "miniaudio",
    }
    proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True)
    assert proc.stdout.startswith("refused: could not open the audio device"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert kuhu_emulator.requests == []


def test_asave_writes_what_save_writes(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    asyncio.run(kuhu_driver.asave(TEXT, tmp_path / "a.wav", subtitles=tmp_path / "a.vtt"))
    kuhu_driver.save(TEXT, tmp_path / "b.wav", subtitles=tmp_path / "b.vtt")
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.vtt").read_text() == (tmp_path / "b.vtt").read_text()


def test_a_cancelled_asave_leaves_no_file(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    kuhu_emulator.latency = 0.5

    async def main() -> None:
        task = asyncio.create_task(kuhu_driver.asave(TEXT, tmp_path / "a.wav"))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    for t in [t for t in threading.enumerate() if t.name == "kuhu-async"]:
        t.join(5)  # the thread ends on its own
    fetches_settled()
    assert list(tmp_path.iterdir()) == []
