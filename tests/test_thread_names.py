"""Every thread the library starts is named for its job (``kuhu-…``; docs/architecture.md
lists them), so a stack dump or a profiler says what each one does. A program speaks
through an engine, ``speak()``, ``stream()``, ``astream()`` and ``save()``, against an
emulator in its own process, and the local voice (pyttsx3's driver in its helper)
speaks; every thread started in it is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROGRAM = r"""
import asyncio, json, sys, threading
started = []
start = threading.Thread.start
def recording(self):
    started.append(self.name)
    return start(self)
threading.Thread.start = recording

import pyttsx3, kuhu_driver
engine = pyttsx3.init("kuhu")
engine.say("你好。")
engine.runAndWait()
kuhu_driver.speak("你好。")
b"".join(kuhu_driver.stream("你好。"))
kuhu_driver.save("你好。", sys.argv[1])
async def main():
    return [c async for c in kuhu_driver.astream("你好。")]
asyncio.run(main())
kuhu_driver.session_of(engine).synthesizer.local.synthesize("hello")
engine.proxy._driver.destroy()
print(json.dumps(sorted(set(started))), flush=True)
"""


def test_every_thread_of_ours_has_a_name_that_says_its_job(
    remote_emulator: Any, capture: Any, tmp_path: Path
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "a.wav")],
        env={
            **os.environ,
            **remote_emulator.env(),
            "KUHU_FALLBACK": "local",
            "KUHU_LOCAL_DRIVER": "espeak",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    names = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"kuhu-speaker", "kuhu-fetch-0", "kuhu-astream", "kuhu-local-reply"} <= set(names)
    unnamed = [n for n in names if not n.startswith("kuhu-")]
    assert unnamed == [], names
