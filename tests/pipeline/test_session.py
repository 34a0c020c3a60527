"""A session (kuhu_driver/pipeline/_session.py): what a program's speech shares from one
call to the next. ``speak()`` twice: one connection, one device; utterances of one
session never overlap; the device is let go after KEEP_DEVICE_FOR; a session's
arguments are its calls' defaults; the default session follows the settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from helpers import XIAOWAN, expected_pcm

import kuhu_driver
from kuhu_driver import Session, speak
from kuhu_driver.pipeline import _session, default_session
from kuhu_driver.testing import KuhuEmulator


def test_speak_again_uses_the_same_connection_and_device(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuhu_driver.audio import make_player as real

    made = []

    def counting(audio: str) -> Any:
        made.append(audio)
        return real(audio)

    monkeypatch.setattr("kuhu_driver.pipeline._session.make_player", counting)
    for text in ("第一句。", "第二句。", "第三句。"):
        speak(text)
    assert capture.read() == b"".join(
        expected_pcm(kuhu_emulator, t) for t in ("第一句。", "第二句。", "第三句。")
    )
    assert [r.text for r in kuhu_emulator.requests] == ["第一句。", "第二句。", "第三句。"]
    assert {r.connection for r in kuhu_emulator.requests} == {1}
    assert kuhu_emulator.connections == 1 and len(made) == 1


def test_a_session_s_arguments_are_defaults_that_a_call_overrides(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    with Session(voice="小婉", rate=300) as s:
        s.speak("一。")
        s.speak("二。", rate=200)
    one, two = kuhu_emulator.requests
    assert (one.params["voice"], one.params["rate"]) == (XIAOWAN, "1.5")
    assert (two.params["voice"], two.params["rate"]) == (XIAOWAN, "1.0")
    assert capture.read() == expected_pcm(
        kuhu_emulator, "一。", voice=XIAOWAN, rate=1.5
    ) + expected_pcm(kuhu_emulator, "二。", voice=XIAOWAN)


@pytest.mark.parametrize("call", ["speak", "stream", "save", "Session"])
def test_a_misspelt_voicing_keyword_is_a_type_error_before_anything_is_sent(
    kuhu_emulator: KuhuEmulator, call: str, tmp_path: Any
) -> None:
    """The voicing keywords are one ``VoiceArgs``: a name outside it fails as Python's
    own keyword check would, and nothing is requested or written."""
    bad: dict[str, Any] = {"volumee": 0.5}
    calls: dict[str, Callable[[], object]] = {
        "speak": lambda: kuhu_driver.speak("你好。", **bad),
        "stream": lambda: list(kuhu_driver.stream("你好。", **bad)),
        "save": lambda: kuhu_driver.save("你好。", tmp_path / "a.wav", **bad),
        "Session": lambda: Session(**bad),
    }
    with pytest.raises(TypeError, match="'volumee'"):
        calls[call]()
    assert kuhu_emulator.requests == [] and list(tmp_path.iterdir()) == []


def test_speak_takes_a_sample_rate_as_the_other_calls_do(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    speak("你好。", sample_rate=16000)
    assert kuhu_emulator.requests[0].params["sample_rate"] == "16000"
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。", sample_rate=16000)


def test_two_threads_speaking_at_once_are_heard_one_after_the_other(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    """Three pieces each, fetched side by side: played on one stream without a turn,
    they would interleave piece by piece."""
    kuhu_emulator.latency = 0.05
    texts = [
        "甲一。甲二是第二句，稍长一些。甲三也在这里。",
        "乙一。乙二是第二句，稍长一些。乙三也在这里。",
    ]
    with Session() as s:
        threads = [threading.Thread(target=s.speak, args=(t,)) for t in texts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    a, b = (expected_pcm(kuhu_emulator, t) for t in texts)
    assert capture.read() in (a + b, b + a)


def test_the_device_is_let_go_when_idle_and_opened_again_when_needed(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_session, "KEEP_DEVICE_FOR", 0.3)
    with Session() as s:
        s.speak("一。")
        assert s._player is not None
        deadline = time.monotonic() + 5
        while s._player is not None:
            assert time.monotonic() < deadline, "the device was never let go"
            time.sleep(0.02)
        s.speak("二。")
    assert capture.read() == expected_pcm(kuhu_emulator, "一。") + expected_pcm(
        kuhu_emulator, "二。"
    )


def test_stream_and_save_share_the_session_s_connection(
    kuhu_emulator: KuhuEmulator, tmp_path: Any
) -> None:
    with Session() as s:
        pcm = b"".join(s.stream("一。"))
        s.save("二。", tmp_path / "a.pcm")
    assert pcm == expected_pcm(kuhu_emulator, "一。")
    assert (tmp_path / "a.pcm").read_bytes() == expected_pcm(kuhu_emulator, "二。")
    assert {r.connection for r in kuhu_emulator.requests} == {1}


def test_a_closed_session_refuses_to_speak(kuhu_emulator: KuhuEmulator) -> None:
    s = Session()
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.speak("你好。")
    assert kuhu_emulator.requests == []


def test_the_default_session_follows_the_settings(
    kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = default_session()
    assert default_session() is first
    with KuhuEmulator() as other:
        monkeypatch.setenv("KUHU_API_URL", other.url)
        monkeypatch.setenv("KUHU_API_KEY", other.api_key)
        assert b"".join(kuhu_driver.stream("你好。")) == expected_pcm(other, "你好。")
        assert first.closed and default_session() is not first
        assert [r.text for r in other.requests] == ["你好。"]
    assert kuhu_emulator.requests == []


def test_aspeak_with_a_session(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    import asyncio

    async def main() -> None:
        with Session(voice="小婉") as s:
            await kuhu_driver.aspeak("你好。", session=s)
            chunks = [c async for c in kuhu_driver.astream("再见。", session=s)]
        assert b"".join(chunks) == expected_pcm(kuhu_emulator, "再见。", voice=XIAOWAN)

    asyncio.run(main())
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。", voice=XIAOWAN)


def test_an_engine_s_session_streams_on_the_engine_s_connection(
    engine: Any, kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    engine.say("你好。")
    engine.runAndWait()
    pcm = b"".join(kuhu_driver.session_of(engine).stream("再见。"))
    assert pcm == expected_pcm(kuhu_emulator, "再见。")
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。")
    assert [r.connection for r in kuhu_emulator.requests] == [1, 1]


def test_session_of_refuses_an_engine_of_another_driver() -> None:
    class Proxy:
        _driver = object()

    class Engine:
        proxy = Proxy()

    with pytest.raises(TypeError, match="not a kuhu engine"):
        kuhu_driver.session_of(Engine())
