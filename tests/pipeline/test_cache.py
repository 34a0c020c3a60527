from __future__ import annotations

import logging
import os
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, expected_pcm, kuhu_engine

import kuhu_driver  # noqa: F401
from kuhu_driver._config import resolve_settings
from kuhu_driver._model import Audio
from kuhu_driver.api import build_request
from kuhu_driver.audio import parse_wav
from kuhu_driver.cli import main
from kuhu_driver.pipeline import CACHE_FOLDER, AudioCache
from kuhu_driver.testing import KuhuEmulator


def audio(n: int) -> Audio:
    return Audio(data=bytes([n % 256]) * 1000, format="pcm", sample_rate=22050)


ENTRY = 1000 + 54  # audio + header (magic, rate, length, format, SHA-256)


def test_round_trip_and_miss(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, 10_000_000)
    key = AudioCache.key("https://x", build_request("你好"))
    assert cache.get(key) is None
    cache.put(key, audio(1))
    assert cache.get(key) == audio(1)
    assert (cache.hits, cache.misses) == (1, 1)


def test_key_covers_everything_that_changes_the_audio() -> None:
    base = {
        "voice": "小婉",
        "format": "pcm",
        "sample_rate": 22050,
        "volume": 50,
        "rate": 1.0,
        "pitch": 1.0,
    }
    keys = {AudioCache.key("https://a", build_request("你好", **base))}  # type: ignore[arg-type]
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("https://b", "你好", {}),
        ("https://a", "您好", {}),
        ("https://a", "你好", {"voice": "小白"}),
        ("https://a", "你好", {"format": "wav"}),
        ("https://a", "你好", {"sample_rate": 16000}),
        ("https://a", "你好", {"volume": 51}),
        ("https://a", "你好", {"rate": 1.1}),
        ("https://a", "你好", {"pitch": 0.9}),
    ]
    for url, text, change in variants:
        keys.add(AudioCache.key(url, build_request(text, **{**base, **change})))
    assert len(keys) == len(variants) + 1


class StepClock:
    """A wall clock that moves on one second each time it is read."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_least_recently_used_goes_first(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, 3 * ENTRY, clock=StepClock())  # three entries
    keys = [f"{i:064x}" for i in range(4)]
    for k in keys[:3]:
        cache.put(k, audio(1))
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(keys[3], audio(2))
    assert cache.get(keys[1]) is None  # the least recently used went
    assert all(cache.get(k) is not None for k in (keys[0], keys[2], keys[3]))
    assert cache.size() <= 3 * ENTRY


def test_damaged_entries_are_misses_and_writes_are_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = AudioCache(tmp_path, 10_000_000)
    key = "ab" * 32
    cache.put(key, audio(3))
    path = tmp_path / CACHE_FOLDER / key[:2] / key
    path.write_bytes(path.read_bytes()[:-10])  # as if cut short
    assert cache.get(key) is None

    def crash(src: object, dst: object, **dir_fds: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)  # the rename into place fails
    other = "cd" * 32
    cache.put(other, audio(4))  # fails, quietly: speech must go on
    assert cache.get(other) is None
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / CACHE_FOLDER / "cd").iterdir())


def test_default_location_and_switches(tmp_path: Path) -> None:
    s = resolve_settings(env={"KUHU_API_KEY": "k", "XDG_CACHE_HOME": str(tmp_path)})
    assert s.cache_dir == tmp_path / "kuhu_driver"
    assert resolve_settings(env={"KUHU_API_KEY": "k", "KUHU_CACHE": "off"}).cache_dir is None


@pytest.fixture
def cached_env(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("KUHU_CACHE", "on")
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_cached_utterance_plays_with_zero_requests(
    kuhu_emulator: KuhuEmulator, capture: Any, cached_env: Path
) -> None:
    text = "缓存的句子。第二句。"
    with kuhu_engine() as engine:
        engine.say(text)
        engine.runAndWait()
        first = len(kuhu_emulator.requests)
        billed = engine.getProperty("billed_chars")
        rec = Recorder()
        rec.connect(engine)
        engine.say(text, "again")
        engine.runAndWait()
        assert len(kuhu_emulator.requests) == first == 2
        assert engine.getProperty("billed_chars") == billed  # cache hits cost nothing
        assert rec.utterances()[-1] == ("finished-utterance", "again", True)
    assert capture.read() == expected_pcm(kuhu_emulator, text) * 2


def test_errors_are_never_cached(
    kuhu_emulator: KuhuEmulator, capture: Any, cached_env: Path
) -> None:
    kuhu_emulator.fail_text("会失败", "json403")
    with kuhu_engine() as engine:
        engine.say("会失败")
        engine.runAndWait()
        engine.say("会失败")
        engine.runAndWait()
    assert [r.outcome for r in kuhu_emulator.requests] == ["fault:json403", "ok"]
    assert capture.read() == expected_pcm(kuhu_emulator, "会失败")


def test_cache_off_writes_nothing(
    kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path / "c"))  # KUHU_CACHE=off from the fixture
    with kuhu_engine() as engine:
        for _ in range(2):
            engine.say("不缓存")
            engine.runAndWait()
    assert len(kuhu_emulator.requests) == 2
    assert not (tmp_path / "c").exists()


# -- files that are not ours, damaged entries, a folder we cannot use -----------------


def test_files_that_are_not_ours_are_never_touched(tmp_path: Path) -> None:
    # Before: eviction removed any old file in any two-letter folder of KUHU_CACHE_DIR.
    key_named = "ab" * 32
    theirs = {
        tmp_path / "go" / "thesis-final.tex": b"\\documentclass{article}",
        tmp_path / "ab" / key_named: b"someone else's file with a key-like name",
        tmp_path / CACHE_FOLDER / "notes.txt": b"a note left in our folder",
        tmp_path / CACHE_FOLDER / "cd" / ("cd" * 32): b"not our magic",
    }
    for path, data in theirs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1, 1))  # older than anything we write: first in line for eviction
    cache = AudioCache(tmp_path, 2 * ENTRY)
    for i in range(10):
        cache.put(f"{i:02x}" * 32, audio(i))
    cache.put("cd" * 32, audio(99))  # the name is taken by a file that is not ours
    for path, data in theirs.items():
        assert path.read_bytes() == data, path
    assert cache.size() <= 2 * ENTRY
    assert (
        (tmp_path / CACHE_FOLDER / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def _damage(kind: str, raw: bytes) -> bytes:
    b = bytearray(raw)
    if kind == "cut-header":
        return bytes(b[:20])
    if kind == "cut-audio":
        return bytes(b[:-10])
    if kind == "rate":
        struct.pack_into("<I", b, 6, 0)  # a 0 Hz entry
    elif kind == "format":
        b[18:22] = b"\xff\xfe\x00\x00"  # not ASCII
    elif kind == "length":
        struct.pack_into("<Q", b, 10, 1)
    elif kind == "audio-bit":
        b[-100] ^= 0x10
    elif kind == "digest":
        b[30] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize(
    "kind", ["cut-header", "cut-audio", "rate", "format", "length", "audio-bit", "digest"]
)
def test_a_damaged_entry_is_discarded_once_and_never_played(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = AudioCache(tmp_path, 10_000_000)
    key = "ef" * 32
    cache.put(key, audio(5))
    path = tmp_path / CACHE_FOLDER / "ef" / key
    path.write_bytes(_damage(kind, path.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="kuhu_driver.pipeline._cache"):
        assert cache.get(key) is None
        assert cache.get(key) is None  # gone: a plain miss, no second warning
    assert [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()] == [
        f"discarded a damaged audio cache entry ({key}); fetching it again"
    ]
    assert not path.exists()
    cache.put(key, audio(5))
    assert cache.get(key) == audio(5)


def test_a_flipped_bit_on_disk_is_fetched_again_and_heard_right(
    kuhu_emulator: KuhuEmulator, capture: Any, cached_env: Path
) -> None:
    text = "位翻转。"
    with kuhu_engine() as engine:
        engine.say(text)
        engine.runAndWait()
        (entry,) = [p for p in (cached_env / CACHE_FOLDER).glob("??/*")]
        raw = bytearray(entry.read_bytes())
        raw[-7] ^= 0x01  # one bit of the audio
        entry.write_bytes(bytes(raw))
        engine.say(text)
        engine.runAndWait()
    assert len(kuhu_emulator.requests) == 2  # fetched again
    assert capture.read() == expected_pcm(kuhu_emulator, text) * 2  # exact, both times


def test_a_cache_folder_we_cannot_use_steps_aside_and_speech_goes_on(
    kuhu_emulator: KuhuEmulator,
    capture: Any,
    cached_env: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A stray file where our folder should be: before, every phrase was billed then lost.
    cached_env.mkdir()
    (cached_env / CACHE_FOLDER).write_bytes(b"a stray file")
    out = tmp_path / "out.wav"
    logs = caplog.at_level(logging.WARNING, logger="kuhu_driver.pipeline._cache")
    with kuhu_engine() as engine, logs:
        engine.say("第一句。")
        engine.say("第二句。")
        engine.save_to_file("第三句。", str(out))
        engine.runAndWait()
    warnings = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 1
    assert capture.read() == expected_pcm(kuhu_emulator, "第一句。") + expected_pcm(
        kuhu_emulator, "第二句。"
    )
    assert out.read_bytes()[44:] == expected_pcm(kuhu_emulator, "第三句。")
    assert len(kuhu_emulator.requests) == 3  # each bought once
    assert (cached_env / CACHE_FOLDER).read_bytes() == b"a stray file"


# -- shared between processes; a folder that cannot take writes ------------------------

HAMMER = r"""
import hashlib, random, sys, time
from kuhu_driver.pipeline import AudioCache
from kuhu_driver._model import Audio

folder, seconds, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20)]
cache = AudioCache(folder, 6 * 16054)  # room for six of the twenty
rng = random.Random(seed)
gets = hits = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    key = rng.choice(keys)
    want = Audio(bytes.fromhex(key) * 500, "pcm", 22050)  # 16000 bytes, by key
    if rng.random() < 0.5:
        cache.put(key, want)
    else:
        got = cache.get(key)
        gets += 1
        if got is not None:
            hits += 1
            if got != want:
                print("CORRUPT", key, flush=True)
                sys.exit(1)
print("ok", gets, hits, cache.discarded, flush=True)
"""


def test_two_processes_hammering_the_same_entries_never_see_a_partial_one(
    tmp_path: Path,
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(tmp_path), "3", str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
        status, gets, hits, discarded = out.split()
        assert status == "ok"
        assert int(hits) > 100 and int(gets) > int(hits)  # both hits and misses happened
        assert int(discarded) == 0  # a reader never met a half-written entry
    # The bound holds across the two processes.
    assert AudioCache(tmp_path, 0).size() <= 6 * 16054


@pytest.fixture
def tiny_mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a small tmpfs (root only): a read-only one, or a full one."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
        )
        if done.returncode != 0:
            why = f"cannot mount a tmpfs here: {done.stderr.decode().strip()}"
            if os.environ.get("CI"):
                pytest.fail(why + " (CI runs as root: the read-only and full-disk cases must run)")
            pytest.skip(why)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("disk", ["read-only", "full"])
def test_a_cache_on_a_read_only_or_full_disk_steps_aside_and_saving_goes_on(
    disk: str,
    tiny_mount: Callable[[str], Path],
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if disk == "read-only":
        folder = tiny_mount("ro,size=1m")
    else:
        folder = tiny_mount("size=64k")
        (folder / "filler").write_bytes(b"\0" * (60 * 1024))  # nearly full
    monkeypatch.setenv("KUHU_CACHE", "on")
    monkeypatch.setenv("KUHU_CACHE_DIR", str(folder))
    text = "磁盘满了也要继续说话。" * 4
    outs = [tmp_path / f"out{i}.wav" for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="kuhu_driver.pipeline._cache"):
        for out in outs:
            assert main([text, "--out", str(out)]) == 0
    warnings = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 3  # one per run (each kuhu-say is one run)
    for out in outs:
        assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    leftovers = [p for p in folder.rglob("*") if p.is_file() and p.name != "filler"]
    assert all(p.name == "CACHEDIR.TAG" for p in leftovers), leftovers


def test_a_cache_that_became_read_only_still_plays_what_it_holds(
    tiny_mount: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    folder = tiny_mount("size=1m")
    kept = Audio(b"\x01\x00" * 1000, "pcm", 22050)
    AudioCache(folder, 10_000_000).put("a" * 64, kept)
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    cache = AudioCache(folder, 10_000_000)
    with caplog.at_level(logging.WARNING, logger="kuhu_driver.pipeline._cache"):
        assert cache.get("a" * 64) == kept
        cache.put("b" * 64, Audio(b"\x02\x00" * 1000, "pcm", 22050))  # cannot be kept
        assert cache.get("a" * 64) == kept  # still played after the failed write
        assert cache.get("b" * 64) is None
        cache.put("c" * 64, kept)  # no second warning
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "still played" in warnings[0], warnings
