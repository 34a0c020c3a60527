"""First sound through Speech Dispatcher: ``spd-say`` (a new client each time) through
our resident module, against ``kuhu-say`` (a new process each time) and an engine's
later utterance, each heard at a real-time sink, against the same emulator (300 ms
latency plus 0.5 ms a billed character)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported by run.py, which puts bench/ and tests/ on the path.
from common import LATENCY, PER_CHAR, row
from rig import PulseRig, Recorder, run_heard

CALLS = 6


def _first_heard(rec: Recorder, since: float) -> float:
    return next(t for t in (rec.time_of(i) for i in rec.sound()) if t >= since) - since


def bench_speechd() -> None:
    print(f"first sound through Speech Dispatcher (server {LATENCY * 1000:.0f} ms), heard")
    if not PulseRig.available() or not Path("/usr/bin/speech-dispatcher").exists():
        print("  pulseaudio or speech-dispatcher not installed: ./dev.sh setup installs them")
        return
    from speechd_rig import PrivateSpeechd

    from kuhu_driver.testing import KuhuEmulator

    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp) / "pulse")
        rig.start()
        emu = KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR)
        emu.start()
        env = {**os.environ, **emu.env(), "KUHU_CACHE": "off"}
        env.pop("KUHU_API_SECRET", None)
        sd = PrivateSpeechd(Path(tmp) / "sd", rig, env)
        try:
            sd.install()
            sd.start()
            spd = _calls(rig, lambda i: sd.spd_say("-w", f"屏幕阅读器第{i}句。"))
            say_env = {**rig.env, **env}
            kuhu = _calls(
                rig,
                lambda i: subprocess.run(
                    [sys.executable, "-m", "kuhu_driver", f"命令行第{i}句。"],
                    env=say_env,
                    capture_output=True,
                    timeout=60,
                ),
            )
        finally:
            sd.stop()
            emu.stop()
        engine = _engine_later(rig)
        rig.stop()
    for label, calls in (("spd-say through sd_kuhu", spd), ("kuhu-say", kuhu)):
        row(
            f"  {label}, call 1 / calls 2-{CALLS} (median)",
            f"{calls[0] * 1000:.0f} / {statistics.median(calls[1:]) * 1000:.0f} ms",
            "",
            None,
        )
    later = statistics.median(engine)
    row("  an engine's later say(), after runAndWait (median)", f"{later * 1000:.0f} ms", "", None)
    d = statistics.median(spd[1:]) - later
    row("  spd-say calls 2-6 less the engine's later say()", f"{d * 1000:+.0f} ms", "", None)


def _calls(rig: PulseRig, call: object) -> list[float]:
    heard = []
    for i in range(CALLS):
        rec = Recorder(rig)
        try:
            t0 = time.monotonic()
            call(i)  # type: ignore[operator]
            time.sleep(0.3)
        finally:
            rec.stop()
        heard.append(_first_heard(rec, t0))
    return heard


def _engine_later(rig: PulseRig) -> list[float]:
    later: list[float] = []
    for _ in range(2):
        out, rec = run_heard(rig, "first", latency=LATENCY)
        times = [rec.time_of(i) for i in rec.sound()]
        later += [next(t for t in times if t >= r) - r for r in out["rounds"][1:]]
    return later
