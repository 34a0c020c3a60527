"""A long save gives its freed memory back after each piece (kuhu_driver/_memory.py);
the peak RSS it keeps a long save under is measured by bench/run.py ("memory")."""

from __future__ import annotations

import subprocess
import sys
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
