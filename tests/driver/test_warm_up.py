"""A connection to the API is kept ready ahead of need (kuhu_driver/pipeline/_synth.py
warm_up): opened at init (at once when text comes first), and opened anew while idle,
before the server closes the last, for a while after the last request. Each opening is
TCP and TLS only: nothing sent, nothing billed, nothing recorded as a request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from helpers import expected_pcm, kuhu_engine, wait_until
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver.api import _client
from kuhu_driver.pipeline import _keeper
from kuhu_driver.testing import KuhuEmulator


def test_init_opens_the_connection_the_first_utterance_uses(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    with kuhu_engine() as engine:
        wait_until(lambda: kuhu_emulator.connections == 1)
        assert kuhu_emulator.requests == []  # nothing billed, nothing asked
        t_run = time.monotonic()
        engine.say("你好。")
        engine.runAndWait()
    (req,) = kuhu_emulator.requests
    assert req.connection == 1 and req.connection_opened < t_run  # opened ahead, reused
    assert kuhu_emulator.connections == 1
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。")


def test_said_right_after_init_the_connection_opens_while_the_device_does(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    """Text queued before the keeper's first opening: the connection is opened as soon
    as pyttsx3 hands the driver the text, while the device opens (made slow here), and
    the request is sent on it. No HEAD, no other connection."""
    engine = Engine("kuhu")
    player = engine.proxy._driver._player
    prepare = player.prepare
    opening = 0.4

    def slow_prepare(sample_rate: int) -> None:
        time.sleep(opening)
        prepare(sample_rate)

    player.prepare = slow_prepare
    try:
        engine.say("你好。")
        engine.runAndWait()
        time.sleep(_keeper.WARM_DELAY)  # the keeper's turn: it opens nothing more
    finally:
        engine.proxy._driver.destroy()
    (req,) = kuhu_emulator.requests
    assert req.connection == 1 and req.arrived - req.connection_opened >= opening - 0.05
    assert kuhu_emulator.connections == 1 and kuhu_emulator.heads == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。")


def test_after_a_pause_the_connection_is_still_open_and_later_let_go(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program that speaks now and then: the server closes connections idle 1 s; the
    engine trusts one for 0.4 s and opens a new one 0.1 s before that, so an utterance
    after a 2.5 s pause finds one open, opened before it was said; once KEEP_WARM_FOR
    has passed since the last request, it stops. (The margins leave a loaded machine
    0.6 s of slack.)"""
    kuhu_emulator.idle_timeout = 1.0
    kuhu_emulator.audio_seconds_per_billed_char = 0.005  # 40 ms a sentence
    monkeypatch.setattr(_client, "KEEP_ALIVE", 0.4)
    monkeypatch.setattr(_keeper, "KEEP_WARM_FOR", 3.5)
    with kuhu_engine() as engine:
        engine.say("第一句。")
        engine.runAndWait()
        time.sleep(2.5)
        t_say = time.monotonic()
        engine.say("第二句。")
        engine.runAndWait()
        opened = kuhu_emulator.connections
        time.sleep(3.5 + 1.0)  # past KEEP_WARM_FOR: left to close
        stopped_at = kuhu_emulator.connections
        time.sleep(1.0)
        assert kuhu_emulator.connections == stopped_at
    _, second = kuhu_emulator.requests
    assert second.connection_opened < t_say  # no connection set up in its critical path
    assert opened >= 3 and stopped_at > opened
    assert kuhu_emulator.heads == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "第一句。") + expected_pcm(
        kuhu_emulator, "第二句。"
    )


def test_no_key_no_warm_up(kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUHU_API_KEY")
    monkeypatch.setenv("KUHU_FALLBACK", "local")  # speech without a key: the local voice
    with kuhu_engine():
        time.sleep(0.3)
    assert kuhu_emulator.heads == 0 and kuhu_emulator.connections == 0


def test_init_loads_the_audio_library_aside_not_in_init(kuhu_emulator: KuhuEmulator) -> None:
    """``pyttsx3.init`` itself imports neither httpx nor miniaudio (nor even socket);
    0.2 s later both are loaded aside (and the text patterns compiled), with no device
    opened."""
    program = (
        "import sys, time, pyttsx3\n"
        "engine = pyttsx3.init('kuhu')\n"
        "assert 'miniaudio' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert 'socket' not in sys.modules\n"
        "from kuhu_driver.pipeline import _chunk\n"
        "assert _chunk._word_re.cache_info().currsize == 0\n"
        "time.sleep(1.5)\n"
        "assert 'miniaudio' in sys.modules and 'httpx' in sys.modules\n"
        "assert _chunk._word_re.cache_info().currsize == 1\n"
        "assert engine.proxy._driver._player._device is None\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program],
        env={**os.environ, **kuhu_emulator.env(), "KUHU_CACHE": "off"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout == "ok\n" and out.stderr == "", out.stderr
    assert kuhu_emulator.requests == [] and kuhu_emulator.connections == 1


def test_no_second_connection_is_opened_while_a_request_is_under_way(
    kuhu_emulator: KuhuEmulator, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spoken at once after init, with a slow server: when the keeper wakes, the request
    is under way on its own connection, so it opens none (before, a HEAD opened a second
    connection, and took CPU from the first request)."""
    kuhu_emulator.latency = 1.5
    monkeypatch.setattr(_keeper, "WARM_DELAY", 0.5)
    with kuhu_engine() as engine:
        engine.say("你好。")
        engine.runAndWait()
    assert [r.text for r in kuhu_emulator.requests] == ["你好。"]
    assert kuhu_emulator.connections == 1 and kuhu_emulator.heads == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "你好。")
