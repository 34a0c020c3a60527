"""A day of speaking, on PulseAudio: the audio device opened hundreds of times in one
process (``speak()`` per notification, engines made and dropped, sample-rate switches)
must keep speaking, hold no more files than at the start, and leave the sound server
usable by other programs. miniaudio leaves one server connection behind per open unless
we release it; the server refuses a client's 65th."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from rig import PulseRig, bursts, run_recorded

pytestmark = pytest.mark.realtime

#: The child: every utterance one device open, then its file count, and whether another
#: program can still talk to the sound server while this one lives.
PROGRAM = r"""
import gc, json, os, subprocess, sys
import pyttsx3
import kuhu_driver
from kuhu_driver.testing import KuhuEmulator

speaks, engines, switches = map(int, sys.argv[1:4])
emu = KuhuEmulator(latency=0.08, audio_seconds_per_billed_char=0.04).start()
os.environ.update(emu.env(), KUHU_CACHE="off", KUHU_FALLBACK="off")

def fds():
    return len(os.listdir("/proc/self/fd"))

out = {"fds": []}
kuhu_driver.speak("你好")
out["fds"].append(fds())
for _ in range(speaks - 1):
    kuhu_driver.speak("你好")
out["fds"].append(fds())
for _ in range(engines):
    engine = pyttsx3.init("kuhu")
    engine.say("你好")
    engine.runAndWait()
    del engine
    gc.collect()
out["fds"].append(fds())
engine = pyttsx3.init("kuhu")
for i in range(switches):
    engine.setProperty("sample_rate", (16000, 22050, 8000)[i % 3])
    engine.say("你好")
    engine.runAndWait()
    if i == 2:
        open_engine = fds()  # a living engine holds its device and connection
out["fds"].append(fds() - open_engine + out["fds"][0])
out["others"] = subprocess.run(["pactl", "info"], capture_output=True).returncode
print(json.dumps(out))
"""


def test_hundreds_of_device_opens_all_speak_and_leave_the_sound_server_usable(
    pulse: Any,
) -> None:
    rig: PulseRig = pulse
    speaks, engines, switches = 80, 70, 70
    proc, rec = run_recorded(
        rig,
        ["-c", PROGRAM, str(speaks), str(engines), str(switches)],
        {"KUHU_AUDIO": "miniaudio"},
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Every utterance heard, each on its own: the next starts after an 80 ms round trip,
    # so a silence of 50 ms or more is between two (a dropout on a loaded machine, as
    # in one CI run, is shorter and does not split one).
    assert bursts(rec.sound(), rec.rate, gap=0.05) == speaks + engines + switches
    # Files held at the start; after the speak() calls; after the engines; and after the
    # sample-rate switches, less what the living engine held after its first switches.
    first, *later = out["fds"]
    assert max(later) <= first + 4, out["fds"]  # a leak grows by 5 per open
    assert out["others"] == 0  # another program could still reach the sound server
    # And after it ended too.
    assert subprocess.run(["pactl", "info"], env=rig.env, capture_output=True).returncode == 0
