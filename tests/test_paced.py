"""Timing on the paced rig (PulseAudio null sink): stop latency, stop from a callback.

Each test runs a small program in a subprocess whose ALSA default device is the
PulseAudio daemon of the ``pulse`` fixture, and records what the sink played.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.realtime

RATE = 22050

STOP_PROGRAM = r"""
import json, os, sys, threading, time
from kuhu_driver.testing import KuhuEmulator
emu = KuhuEmulator(audio_seconds_per_billed_char=0.1).start()
os.environ.update(emu.env()); os.environ["KUHU_CACHE"] = "off"
import pyttsx3
engine = pyttsx3.init("kuhu")
mode = sys.argv[1]
out = {"events": [], "t_stop": None, "t_start": None}
def on_start(name):
    out["events"].append(["started-utterance", name])
    if out["t_start"] is None:
        out["t_start"] = time.monotonic()
        if mode == "thread":
            def later():
                out["t_stop"] = time.monotonic(); engine.stop()
            threading.Timer(0.6, later).start()
def on_word(name, location, length):
    if mode == "callback" and name == "long" and location == 6 and out["t_stop"] is None:
        out["t_stop"] = time.monotonic(); engine.stop()
def on_finish(name, completed):
    out["events"].append(["finished-utterance", name, completed])
    out.setdefault("t_finish", time.monotonic())
engine.connect("started-utterance", on_start)
engine.connect("started-word", on_word)
engine.connect("finished-utterance", on_finish)
engine.say("一二三四五六七八九十" * 3, "long")   # 6 s of audio
engine.say("never spoken", "never")
engine.runAndWait()
out["requests"] = [r.text for r in emu.requests]
out["t_end"] = time.monotonic()
print(json.dumps(out))
"""


def _audible_seconds(raw: bytes, threshold: int = 300) -> float:
    samples = array("h", raw[: len(raw) - len(raw) % 2])
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    return (loud[-1] - loud[0]) / RATE if loud else 0.0


@pytest.mark.parametrize("mode", ["thread", "callback"])
def test_stop_silences_within_100_ms(pulse: Any, tmp_path: Path, mode: str) -> None:
    heard = tmp_path / "heard.raw"
    rec = pulse.record(heard, RATE)
    pulse.warm_up()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", STOP_PROGRAM, mode],
            env=pulse.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        time.sleep(0.3)
    finally:
        rec.terminate()
        rec.wait()
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["events"] == [
        ["started-utterance", "long"],
        ["finished-utterance", "long", False],
    ]
    # The queue was cleared: the next utterance (perhaps prefetched) never started.
    played_before_stop = out["t_stop"] - out["t_start"]
    audible = _audible_seconds(heard.read_bytes())
    assert audible > 0.3, "the paced rig heard nothing"
    # Sound ended within 100 ms of stop() (the sink's own latency counts against us).
    assert audible - played_before_stop < 0.1, (audible, played_before_stop)
    assert out["t_finish"] - out["t_stop"] < 0.1
