from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from helpers import Recorder, expected_pcm
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401
from kuhu_driver.cache import AudioCache
from kuhu_driver.client import Audio, build_request
from kuhu_driver.config import resolve_settings
from kuhu_driver.testing import KuhuEmulator


def audio(n: int) -> Audio:
    return Audio(data=bytes([n % 256]) * 1000, format="pcm", sample_rate=22050)


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


def test_least_recently_used_goes_first(tmp_path: Path) -> None:
    cache = AudioCache(tmp_path, 3 * 1030)  # three entries (1000 bytes + header)
    keys = [f"{i:064x}" for i in range(4)]
    for k in keys[:3]:
        cache.put(k, audio(1))
        time.sleep(0.02)
    assert cache.get(keys[0]) is not None  # now the most recently used
    time.sleep(0.02)
    cache.put(keys[3], audio(2))
    assert cache.get(keys[1]) is None  # the least recently used went
    assert all(cache.get(k) is not None for k in (keys[0], keys[2], keys[3]))
    assert cache.size() <= 3 * 1030


def test_damaged_entries_are_misses_and_writes_are_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = AudioCache(tmp_path, 10_000_000)
    key = "ab" * 32
    cache.put(key, audio(3))
    path = tmp_path / key[:2] / key
    path.write_bytes(path.read_bytes()[:-10])  # as if cut short
    assert cache.get(key) is None

    def crash(self: Path, target: Path) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", crash)
    other = "cd" * 32
    cache.put(other, audio(4))  # fails, quietly: speech must go on
    assert cache.get(other) is None
    assert not any(p.name.startswith(".tmp-") for p in (tmp_path / "cd").iterdir())


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
    engine = Engine("kuhu")
    try:
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
    finally:
        engine.proxy._driver.destroy()
    assert capture.read() == expected_pcm(kuhu_emulator, text) * 2


def test_errors_are_never_cached(
    kuhu_emulator: KuhuEmulator, capture: Any, cached_env: Path
) -> None:
    kuhu_emulator.fail_text("会失败", "json403")
    engine = Engine("kuhu")
    try:
        engine.say("会失败")
        engine.runAndWait()
        engine.say("会失败")
        engine.runAndWait()
    finally:
        engine.proxy._driver.destroy()
    assert [r.outcome for r in kuhu_emulator.requests] == ["fault:json403", "ok"]
    assert capture.read() == expected_pcm(kuhu_emulator, "会失败")


def test_cache_off_writes_nothing(
    kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path / "c"))  # KUHU_CACHE=off from the fixture
    engine = Engine("kuhu")
    try:
        for _ in range(2):
            engine.say("不缓存")
            engine.runAndWait()
    finally:
        engine.proxy._driver.destroy()
    assert len(kuhu_emulator.requests) == 2
    assert not (tmp_path / "c").exists()
