"""``run_batch``: many short texts to numbered files, resumable, failures per file."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import synth_for

from kuhu_driver._model import Voicing
from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.audio import parse_wav
from kuhu_driver.cli import run_batch
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.testing import KuhuEmulator

VOICING = Voicing(DEFAULT_VOICE.id, 50, 1.0, 1.0, 16000)


def test_each_line_becomes_its_numbered_file_with_the_served_audio(tmp_path: Path) -> None:
    items = [(1, "第一行。"), (2, "second line"), (10, "第十行。")]
    progress: list[tuple[int, int]] = []
    with KuhuEmulator() as emu, synth_for(emu) as synth:
        result = run_batch(
            items, tmp_path, synth, VOICING, on_progress=lambda d, t: progress.append((d, t))
        )
        expected = {
            n: emu.render(text, voice=DEFAULT_VOICE.id, sample_rate=16000) for n, text in items
        }
    assert [p.name for p in result.written] == ["0001.wav", "0002.wav", "0010.wav"]
    assert result.skipped == [] and result.failed == []
    for n, _ in items:
        wav = parse_wav((tmp_path / f"{n:04d}.wav").read_bytes())
        assert (wav.sample_rate, wav.data) == (16000, expected[n])
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)


def test_a_second_run_does_only_what_is_missing(tmp_path: Path) -> None:
    items = [(1, "一。"), (2, "二。"), (3, "三。")]
    with KuhuEmulator() as emu, synth_for(emu) as synth:
        run_batch(items[:2], tmp_path, synth, VOICING)
        emu.reset_log()
        result = run_batch(items, tmp_path, synth, VOICING)
        texts = [r.text for r in emu.requests]
    assert [p.name for p in result.skipped] == ["0001.wav", "0002.wav"]
    assert [p.name for p in result.written] == ["0003.wav"]
    assert texts == ["三。"]  # nothing bought again


def test_a_failing_line_is_reported_and_the_others_are_written(tmp_path: Path) -> None:
    items = [(1, "好。"), (2, "坏。"), (3, "好的。")]
    with KuhuEmulator() as emu, synth_for(emu) as synth:
        emu.fail_text("坏。", "json403")
        result = run_batch(items, tmp_path, synth, VOICING)
    assert [p.name for p in result.written] == ["0001.wav", "0003.wav"]
    assert [(p.name, type(e).__name__) for p, e in result.failed] == [("0002.wav", "AuthError")]
    assert not (tmp_path / "0002.wav").exists()
    assert not list(tmp_path.glob(".*.part"))  # no partial file left


def test_an_unknown_format_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with KuhuEmulator() as emu, synth_for(emu) as synth:
        with pytest.raises(InvalidInputError, match="ogg"):
            run_batch([(1, "一。")], tmp_path, synth, VOICING, fmt="ogg")
        assert emu.requests == []


def test_ctrl_c_ends_a_batch_at_once_even_where_lock_waits_ignore_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows before Python 3.14, simulated: a wait with no timeout lets Ctrl-C through
    only once it returns. The batch waits in slices, so Ctrl-C ends it at once, not when
    the next file is done (4 s here)."""
    import _thread
    import threading
    import time

    real_wait = threading.Condition.wait

    def windows_wait(self: threading.Condition, timeout: float | None = None) -> bool:
        if timeout is not None:
            return real_wait(self, timeout)
        interrupted = False
        while True:
            try:
                if real_wait(self, 0.05):
                    break
            except KeyboardInterrupt:
                interrupted = True  # held back until the wait ends, as on Windows
        if interrupted:
            raise KeyboardInterrupt
        return True

    with KuhuEmulator(latency=4.0) as emu, synth_for(emu) as synth:
        monkeypatch.setattr(threading.Condition, "wait", windows_wait)
        threading.Timer(0.5, _thread.interrupt_main).start()
        began = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run_batch([(1, "一。"), (2, "二。")], tmp_path, synth, VOICING)
        took = time.monotonic() - began
        monkeypatch.undo()
    assert took < 2.0, took
