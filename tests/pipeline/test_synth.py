"""The synthesizer: identical requests in flight are bought once, whatever the cache."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from helpers import kuhu_engine, synth_for, wait_until

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver._cancel import CancelToken
from kuhu_driver._model import Voicing
from kuhu_driver._text import billed_chars
from kuhu_driver.api import DEFAULT_VOICE, request_for
from kuhu_driver.errors import StoppedError
from kuhu_driver.testing import KuhuEmulator

VOICING = Voicing(DEFAULT_VOICE.id, 50, 1.0, 1.0, 22050)


def test_identical_requests_in_flight_are_one_request() -> None:
    with KuhuEmulator(latency=0.3) as emu, synth_for(emu) as synth:
        with ThreadPoolExecutor(5) as pool:
            results = list(
                pool.map(
                    lambda _: synth.fetch(request_for("同一句话。", VOICING, "pcm"), CancelToken()),
                    range(5),
                )
            )
        assert len(emu.requests) == 1
        served = emu.render("同一句话。", voice=DEFAULT_VOICE.id)
        assert all(r.data == served for r in results)
        assert synth.billed_shared == 4 * billed_chars("同一句话。")  # not bought again
        # Different text, or the same text in another format, is its own request.
        synth.fetch(request_for("另一句话。", VOICING, "pcm"), CancelToken())
        synth.fetch(request_for("同一句话。", VOICING, "mp3"), CancelToken())
        assert len(emu.requests) == 3


def test_a_waiter_asks_itself_when_the_one_asking_is_stopped() -> None:
    with KuhuEmulator(latency=0.5) as emu, synth_for(emu) as synth:
        stop_first = CancelToken()
        first: list[BaseException] = []

        def leader() -> None:
            try:
                synth.fetch(request_for("一句话。", VOICING, "pcm"), stop_first)
            except StoppedError as exc:
                first.append(exc)

        t = threading.Thread(target=leader)
        t.start()
        wait_until(lambda: emu.requests, what="the leader's request")  # on the wire
        waiter: list[Any] = []
        w = threading.Thread(
            target=lambda: waiter.append(
                synth.fetch(request_for("一句话。", VOICING, "pcm"), CancelToken())
            )
        )
        w.start()
        threading.Event().wait(0.1)
        stop_first.set()  # its callback cuts the answer being read
        t.join(5)
        w.join(5)
        assert len(first) == 1  # the leader was stopped
        assert waiter[0].data == emu.render("一句话。", voice=DEFAULT_VOICE.id)
        assert len(emu.requests) == 2  # the waiter asked again, once


def test_a_phrase_queued_three_times_is_bought_once(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.setenv("KUHU_CACHE", "on")
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path))
    from helpers import expected_pcm

    text = "菜单：第一项，第二项。"
    with kuhu_engine() as engine:
        for i in range(3):
            engine.say(text, f"u{i}")
        engine.save_to_file(text, str(tmp_path / "x.wav"))
        engine.runAndWait()
    assert [r.text for r in kuhu_emulator.requests] == [text]  # once, not four times
    assert capture.read() == expected_pcm(kuhu_emulator, text) * 3


def test_said_and_saved_at_once_is_bought_once_with_the_cache_off(
    kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Any
) -> None:
    from helpers import expected_pcm

    kuhu_emulator.latency = 0.3
    text = "通知：会议改到三点。"
    with kuhu_engine() as engine:
        engine.say(text, "said")
        engine.save_to_file(text, str(tmp_path / "x.wav"))
        engine.runAndWait()
    assert [r.text for r in kuhu_emulator.requests] == [text]
    assert capture.read() == expected_pcm(kuhu_emulator, text)
    assert (tmp_path / "x.wav").stat().st_size == 44 + len(
        kuhu_emulator.render(text, voice=DEFAULT_VOICE.id)
    )
