"""Long saves resume, whatever the cache: a save killed at any point and run again bills
only the pieces it had not received, and writes the same bytes as a run never killed."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import numbered, wait_until

from kuhu_driver._text import billed_chars
from kuhu_driver.api import DEFAULT_VOICE, build_request
from kuhu_driver.pipeline import SUFFIX, AudioCache, speech_pieces
from kuhu_driver.testing import KuhuEmulator, vendor_billed

BOOK = numbered("这是一本很长的书里的一句话，读起来要一会儿。", 300)  # 14,892 billed characters


def pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in speech_pieces(text)]


def kuhu_say(text: str, out: Path) -> list[str]:
    """kuhu-say saving ``text`` (from a file beside ``out``: a book is too long for argv)."""
    folder = out.parent.with_name(out.parent.name + "-texts")  # not beside the output
    folder.mkdir(exist_ok=True)
    src = folder / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.txt"
    src.write_text(text, encoding="utf-8")
    return [
        *(sys.executable, "-m", "kuhu_driver", "-f", str(src)),
        *("--out", str(out), "--sample-rate", "8000"),
    ]


def kept_pieces(out: Path) -> set[int]:
    """The pieces a killed save left: appended to its part file, or kept as files."""
    folder = out.with_name(f".{out.name}{SUFFIX}")
    if not folder.is_dir():
        return set()
    try:
        state = json.loads((folder / "state.json").read_text())
        appended = len(state["hashes"])
    except (OSError, ValueError):
        appended = 0
    files = {int(p.name[1:]) for p in folder.glob("p[0-9][0-9][0-9][0-9][0-9]")}
    return set(range(appended)) | files


def kill_when_kept(
    argv: list[str], env: dict[str, str], out: Path, pieces: int, emulator: KuhuEmulator
) -> None:
    """Run ``argv`` and kill it with SIGKILL once ``pieces`` of its save are kept; then
    wait until the requests it had sent have all reached ``emulator`` (on a loaded
    machine one can be read after the kill, and be counted against the next run)."""
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(kept_pieces(out)) < pieces:  # then kill it, whatever it is doing
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.002)
        proc.kill()  # SIGKILL on POSIX: no handler, no clean-up
    finally:
        proc.wait(10)
    quiet_until = time.monotonic() + 0.3
    seen = len(emulator.requests)
    end = time.monotonic() + 5
    while time.monotonic() < min(quiet_until, end):
        time.sleep(0.02)
        if len(emulator.requests) != seen:
            seen = len(emulator.requests)
            quiet_until = time.monotonic() + 0.3


def cached_pieces(texts: list[str], cache_dir: Path | None, url: str) -> set[int]:
    if cache_dir is None:
        return set()
    cache = AudioCache(cache_dir, 10**12)
    found = set()
    for i, t in enumerate(texts):
        req = build_request(t, voice=DEFAULT_VOICE.id, format="pcm", sample_rate=8000)
        if cache.get(AudioCache.key(url, req)) is not None:
            found.add(i)
    return found


@pytest.fixture
def emulator() -> Any:
    # Short audio per character, so that even the 200,000-character book stays small.
    with KuhuEmulator(audio_seconds_per_billed_char=0.005, seconds_per_billed_char=0.0002) as emu:
        yield emu


@pytest.mark.parametrize(
    ("cache", "kill_after", "text"),
    [
        ("off", 1, BOOK),
        ("off", 4, BOOK),
        ("on", 3, BOOK),
        ("small", 2, BOOK),
        # A book far larger than the cache bound: 200,000 billed characters.
        ("small", 50, numbered("一本二十万字的书，每一句都不一样。", 4880)),
    ],
)
def test_a_killed_save_bills_only_what_it_had_not_received(
    emulator: KuhuEmulator, tmp_path: Path, cache: str, kill_after: int, text: str
) -> None:
    texts = pieces(text)
    assert billed_chars(text) <= 200_000
    cache_dir = None if cache == "off" else tmp_path / "cache"
    env = {
        **os.environ,
        **emulator.env(),
        "KUHU_FALLBACK": "off",
        "KUHU_CACHE": "off" if cache == "off" else "on",
        "KUHU_CACHE_DIR": str(tmp_path / "cache"),
        "KUHU_CACHE_MAX_MB": "0.05" if cache == "small" else "200",
    }
    # The reference: the same save, never killed (its own cache, so nothing is shared).
    ref = tmp_path / "ref" / "book.wav"
    ref.parent.mkdir()
    ref_env = {**env, "KUHU_CACHE": "off"}
    done = subprocess.run(kuhu_say(text, ref), env=ref_env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    emulator.reset_log()

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "book.wav"
    kill_when_kept(kuhu_say(text, out), env, out, kill_after, emulator)
    received = kept_pieces(out) | cached_pieces(texts, cache_dir, emulator.url)
    assert len(received) < len(texts)
    assert not out.exists()

    emulator.reset_log()
    again = subprocess.run(kuhu_say(text, out), env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    asked = [r.text for r in emulator.requests]
    missing = [t for i, t in enumerate(texts) if i not in received]
    assert sorted(asked) == sorted(missing)  # each missing piece once, nothing else
    assert emulator.billed_total() == sum(vendor_billed(t) for t in missing)
    assert f"billed {sum(vendor_billed(t) for t in missing)} characters" in again.stderr
    assert out.read_bytes() == ref.read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == ["book.wav"]  # nothing left behind


def test_a_different_save_to_the_same_path_starts_afresh(
    emulator: KuhuEmulator, tmp_path: Path
) -> None:
    env = {**os.environ, **emulator.env(), "KUHU_FALLBACK": "off", "KUHU_CACHE": "off"}
    out = tmp_path / "book.wav"
    kill_when_kept(kuhu_say(BOOK, out), env, out, 3, emulator)
    assert kept_pieces(out)
    other = BOOK.replace("书", "信")
    done = subprocess.run(kuhu_say(other, out), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.wav"]
    emulator.reset_log()
    ref = tmp_path / "ref.wav"
    subprocess.run(kuhu_say(other, ref), env=env, check=True, capture_output=True)
    assert out.read_bytes() == ref.read_bytes()


SAVE_PROGRAM = r"""
import sys, pyttsx3
engine = pyttsx3.init("kuhu")
engine.setProperty("sample_rate", 8000)
engine.save_to_file(sys.argv[1], sys.argv[2])
engine.runAndWait()
"""


def test_a_killed_pyttsx3_save_to_file_resumes_too(emulator: KuhuEmulator, tmp_path: Path) -> None:
    env = {**os.environ, **emulator.env(), "KUHU_FALLBACK": "off", "KUHU_CACHE": "off"}
    out = tmp_path / "book.wav"
    argv = [sys.executable, "-c", SAVE_PROGRAM, BOOK, str(out)]
    kill_when_kept(argv, env, out, 3, emulator)
    received = kept_pieces(out)
    assert received
    emulator.reset_log()
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)
    texts = pieces(BOOK)
    missing = [t for i, t in enumerate(texts) if i not in received]
    assert sorted(r.text for r in emulator.requests) == sorted(missing)
    assert emulator.billed_total() == sum(vendor_billed(t) for t in missing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.wav"]
    # The file is the one an uninterrupted save writes, byte for byte: the pieces as the
    # server rendered them, in order, under one header.
    pcm = b"".join(emulator.render(t, voice=DEFAULT_VOICE.id, sample_rate=8000) for t in texts)
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)  # PCM, mono, 16-bit
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<I", 16)
    header += fmt + b"data" + struct.pack("<I", len(pcm))
    assert out.read_bytes() == header + pcm


def _stopped_halfway(text: str, out: Path, emu: KuhuEmulator) -> None:
    """A save stopped from another thread once half its pieces were asked for."""
    import threading

    from kuhu_driver.errors import StoppedError
    from kuhu_driver.pipeline import default_session

    speech = default_session().speech(text)
    half = len(speech_pieces(text)) // 2

    def stop_at_half() -> None:
        wait_until(lambda: len(emu.requests) >= half, 30, "half the requests")
        speech.stop()

    stopper = threading.Thread(target=stop_at_half)
    stopper.start()
    with pytest.raises(StoppedError):
        speech.save(out, None)
    stopper.join()


@pytest.mark.parametrize(
    "damage",
    [
        lambda state: {**state, "start": "garbage"},
        lambda state: {**state, "ends": [*state["ends"][:-1], "x"]},
        lambda state: {**state, "hashes": ["é" * 64 for _ in state["hashes"]]},
        lambda state: {**state, "ends": list(reversed(state["ends"]))},
        lambda state: "not an object",
    ],
    ids=["start", "end", "hash", "order", "shape"],
)
def test_damaged_saved_progress_is_one_warning_and_the_save_starts_afresh(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    import kuhu_driver
    from kuhu_driver.pipeline._resume import folder_for

    kuhu_emulator.latency = 0.05
    out = tmp_path / "book.wav"
    _stopped_halfway(BOOK, out, kuhu_emulator)
    state_file = folder_for(out) / "state.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert len(state["ends"]) >= 2
    state_file.write_text(json.dumps(damage(state)), encoding="utf-8")
    kuhu_driver.save(BOOK, out)  # no traceback; the save is not stuck
    (tmp_path / "whole").mkdir()
    kuhu_driver.save(BOOK, tmp_path / "whole" / "book.wav")
    assert out.read_bytes() == (tmp_path / "whole" / "book.wav").read_bytes()
    warned = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"
    assert not folder_for(out).exists()


def test_a_fetch_that_ends_after_its_save_stopped_never_writes_into_the_next_runs(
    tmp_path: Path,
) -> None:
    """A piece being kept when its run ends is finished first (the run lets go of the
    folder only then); a piece that arrives after the run ended is not written at all,
    even once the next run of the same save owns the folder."""
    import threading

    from kuhu_driver._model import Audio
    from kuhu_driver.pipeline import SaveState

    out = tmp_path / "book.wav"
    audio = Audio(data=b"\x01\x02" * 1000, format="pcm", sample_rate=22050)
    first = SaveState(out, "same-save").open()
    storing, finish = threading.Event(), threading.Event()
    real_store = first._store

    def slow_store(index: int, piece: Audio) -> bool:
        storing.set()
        finish.wait(10)
        return real_store(index, piece)

    first._store = slow_store  # type: ignore[method-assign,assignment]
    kept = threading.Thread(target=first.store, args=(1, audio))
    kept.start()
    assert storing.wait(10)
    ended = threading.Thread(target=first.release)
    ended.start()
    ended.join(0.3)
    assert ended.is_alive()  # the run waits for the piece under way
    finish.set()
    ended.join(10)
    kept.join(10)
    second = SaveState(out, "same-save").open()  # the next run of the same save
    try:
        assert second.kept() == {1}  # the piece kept before the first run ended
        assert first.store(2, audio) is False  # arrives after: written nowhere
        assert second.kept() == {1}
        assert sorted(p.name for p in second.folder.iterdir()) == sorted(["job", "lock", "p00001"])
    finally:
        second.release()
