"""A long save gives its freed memory back after each piece (kuhu_driver/_memory.py);
the peak RSS it keeps a long save under is measured by bench/run.py ("memory")."""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from helpers import numbered

from kuhu_driver import _memory
from kuhu_driver.pipeline import _save

FREED_BUT_HELD = r"""
import gc, os
from kuhu_driver import _memory
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
blobs = [bytes(60 * 1024) for _ in range(2000)]  # 120 MB in the heap, below mmap's size
pinned = [bytearray(60 * 1024) for _ in range(3)]  # above them: the heap cannot shrink
del blobs
gc.collect()
held = rss_mb()
given = _memory.give_back_free_memory()
print(held, rss_mb(), given)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_memory_held_by_the_heap_is_given_back_on_linux() -> None:
    """120 MB freed but held by glibc's heap (a live block above it) is returned to the
    system: the process's resident size falls by most of it."""
    out = subprocess.run(
        [sys.executable, "-c", FREED_BUT_HELD], capture_output=True, text=True, check=True
    )
    held, after, given = out.stdout.split()
    assert given == "True"
    assert float(held) - float(after) > 80, out.stdout


def test_without_malloc_trim_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_memory, "_state", {"trim": None})
    assert _memory.give_back_free_memory() is False


@pytest.mark.parametrize("billed", [600, 3000], ids=["short", "resumable"])
def test_each_written_piece_is_followed_by_a_trim(
    engine: Any, kuhu_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, billed: int
) -> None:
    calls: list[int] = []

    def trim() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(_save, "give_back_free_memory", trim)
    text = numbered("一段用来测量内存的文字。", billed // 23)
    out = tmp_path / "long.wav"
    engine.save_to_file(text, str(out))
    engine.runAndWait()
    pieces = len(kuhu_emulator.requests)
    assert pieces >= 2
    assert len(calls) == pieces
    with wave.open(str(out)) as w:
        assert w.getnframes() > 0


def test_a_resumable_save_holds_only_the_piece_being_written(
    engine: Any, kuhu_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the writer is held after piece 0, pieces 1–3 arrive: each is kept in the
    save's folder and held nowhere in memory (a long save's peak is the piece being
    written and those still arriving, not the whole window)."""
    import tracemalloc

    out = tmp_path / "long.wav"
    folder = tmp_path / ".long.wav.kuhu-save"
    held: list[int] = []

    def measured() -> int:
        """Bytes in blocks of 256 kB or more that our code (not the emulator) holds:
        audio, not the modules imported meanwhile."""
        snap = tracemalloc.take_snapshot().filter_traces(
            [
                tracemalloc.Filter(True, "*/kuhu_driver/*", all_frames=True),
                tracemalloc.Filter(False, "*/kuhu_driver/testing/*", all_frames=True),
            ]
        )
        return sum(t.size for t in snap.traces if t.size >= 256 * 1024)

    def hold_the_writer() -> bool:
        if held:
            return True
        deadline = time.monotonic() + 30
        while not all((folder / f"p{i:05d}").exists() for i in (1, 2, 3)):
            assert time.monotonic() < deadline, "pieces 1-3 were not kept while waiting"
            time.sleep(0.01)
        deadline = time.monotonic() + 10  # their fetching threads let go of them
        while (size := measured()) > 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        held.append(size)
        return True

    monkeypatch.setattr(_save, "give_back_free_memory", hold_the_writer)
    tracemalloc.start(30)
    try:
        engine.save_to_file(numbered("一段用来测量内存的文字。", 8000 // 23), str(out))
        engine.runAndWait()
    finally:
        tracemalloc.stop()
    pieces = len(kuhu_emulator.requests)
    assert pieces >= 4
    piece_size = (out.stat().st_size - 44) / pieces
    assert piece_size > 3_000_000  # each kept piece is megabytes: holding one shows
    assert held and held[0] < 1_000_000, f"{held[0] / 1e6:.1f} MB held while writing waited"
