"""A day of speaking, as accessibility users speak: the figures of bench/run.py's
``soak``, ``day_outage`` and ``stream_memory`` sections (run.py calls these).

- soak: 600 utterances on one engine, heard on the PulseAudio rig: every one heard,
  dropouts inside utterances counted, and the process's RSS, files and threads at the
  1st, 300th and 600th; then 80 ``speak()`` calls, each opening the device.
- day_outage: the service down for 8 s (connections reset, or accepted and never
  answered), then back; and a server that takes 5 s for every answer.
- stream_memory: ``stream()`` of a long text (2,000-billed pieces) read slowly: peak RSS
  above the base.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rig import PulseRig, bursts, run_recorded, silent_runs

#: The soak program: one engine, N utterances one per runAndWait, then M speak() calls;
#: the process's resources at a few points, as JSON.
SOAK_PROGRAM = r"""
import json, os, sys, threading
import pyttsx3
import kuhu_driver
from kuhu_driver.testing import KuhuEmulator

count, speaks = int(sys.argv[1]), int(sys.argv[2])
emu = KuhuEmulator(latency=0.04, audio_seconds_per_billed_char=0.02).start()
os.environ.update(emu.env(), KUHU_CACHE="off")

def resources():
    rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS"))
    return {"rss_mb": rss / 1024, "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count()}

out = {"at": {}}
engine = pyttsx3.init("kuhu")
for i in range(1, count + 1):
    engine.say(f"第{i}句。")
    engine.runAndWait()
    if i in (1, count // 2, count):
        out["at"][i] = resources()
out["underruns"] = engine.proxy._driver._player.underruns
engine.proxy._driver.destroy()
del engine
for i in range(speaks):
    kuhu_driver.speak(f"通知{i}。")
out["after_speak"] = resources()
print(json.dumps(out))
"""


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"  {name:<52} {value:>22}   {target:<16} {verdict}")


def bench_soak() -> None:
    count, speaks = 600, 80
    print(f"soak: {count} utterances on one engine, then {speaks} speak() calls (PulseAudio)")
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            proc, rec = run_recorded(
                rig,
                ["-c", SOAK_PROGRAM, str(count), str(speaks)],
                {"KUHU_AUDIO": "miniaudio"},
                timeout=900,
            )
        finally:
            rig.stop()
    if proc.returncode != 0:
        row("the soak program", "failed", "", False)
        print(proc.stderr[-2000:])
        return
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    loud = rec.sound()
    heard = bursts(loud, rec.rate)
    pcm = bytes(rec.data)
    # A dropout: silence of 1-30 ms inside the sound (utterances are 40 ms or more apart).
    drops = [n for _, n in silent_runs(pcm, rec.rate, 1.0) if n < 0.03 * rec.rate]
    row(
        "utterances heard, each on its own",
        f"{heard} of {count + speaks}",
        "all",
        heard == count + speaks,
    )
    row(
        "dropouts inside utterances",
        f"{len(drops)} ({sum(drops) / rec.rate * 1000:.0f} ms in all)",
        "0",
        not drops,
    )
    row(
        "callbacks that found the device run dry",
        str(out["underruns"]),
        "0",
        out["underruns"] == 0,
    )
    at = out["at"]
    first, mid, last = (at[k] for k in sorted(at, key=int))
    for what, unit in (("rss_mb", "MB"), ("fds", ""), ("threads", "")):
        values = f"{first[what]:.0f} / {mid[what]:.0f} / {last[what]:.0f} {unit}".strip()
        flat = last[what] <= mid[what] * 1.05 + 1
        row(f"{what.split('_')[0]} at utterance 1 / {count // 2} / {count}", values, "flat", flat)
    after = out["after_speak"]
    row(
        f"after {speaks} speak() calls: fds, threads",
        f"{after['fds']}, {after['threads']}",
        f"<= {last['fds']}",
        after["fds"] <= last["fds"],
    )


def heard_firsts(rig: PulseRig, mode: str, run_heard: Any) -> tuple[list[float], dict[str, Any]]:
    out, rec = run_heard(rig, mode, env={"KUHU_FALLBACK": "local"})
    heard = [rec.time_of(i) for i in rec.sound()]
    return [next(t for t in heard if t >= t_run) - t_run for t_run in out["rounds"]], out


def bench_day_outage() -> None:
    from rig import run_heard

    print("outages that reset or hang, and a 5 s server (heard on PulseAudio, 2 runs each)")
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            for fault in ("reset", "silent"):
                firsts, laters, backs = [], [], []
                for _ in range(2):
                    f, out = heard_firsts(rig, f"outage-{fault}", run_heard)
                    firsts.append(f[0])
                    laters.extend(f[1:3])
                    fell_back = {e[2] for e in out["events"] if e[1] == "error"}
                    back = next(
                        e[0]
                        for e in out["events"]
                        if e[1] == "start" and e[2].startswith("up") and e[2] not in fell_back
                    )
                    backs.append(back - out["restart"])
                name = {"reset": "resets", "silent": "never answers"}[fault]
                row(f"{name}: 1st utterance heard", ms(firsts), "<= 2000 ms", max(firsts) <= 2)
                row(f"{name}: later utterances heard", ms(laters), "<= 500 ms", max(laters) <= 0.5)
                row(
                    f"{name}: cloud voice back after the server",
                    secs(backs),
                    "<= 5 s",
                    max(backs) <= 5,
                )
            slow: list[float] = []
            for _ in range(2):
                slow.extend(heard_firsts(rig, "slow", run_heard)[0])
            row("5 s server: each utterance heard", ms(slow), "<= 3000 ms", max(slow) <= 3)
        finally:
            rig.stop()


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (worst {max(values) * 1000:.0f})"


def secs(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s (worst {max(values):.1f})"


STREAM_PROGRAM = r"""
import os, sys, time
from kuhu_driver.testing import KuhuEmulator
import kuhu_driver

emu = KuhuEmulator(audio_seconds_per_billed_char=0.08).start()
os.environ.update(emu.env(), KUHU_CACHE="off", KUHU_FALLBACK="off")

def peak():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))

for _ in kuhu_driver.stream("预热。"):
    pass
base = peak()
text = "这是一段很长的文字，用来测试流的内存。" * 1200
total = 0
for chunk in kuhu_driver.stream(text):
    total += len(chunk)
    time.sleep(1.0)
growth = (peak() - base) / 1024
emu.latency = 0.3
began = time.monotonic()
for chunk in kuhu_driver.stream(text):
    pass
print(total, growth, time.monotonic() - began)
"""


def bench_stream_memory() -> None:
    print("stream() of a long text read slowly (1 s per piece; pieces of 2,000 billed)")
    proc = subprocess.run(
        [sys.executable, "-c", STREAM_PROGRAM], capture_output=True, text=True, timeout=600
    )
    total, growth, fast = proc.stdout.split()
    row(
        f"peak RSS above the base ({int(total) / 1e6:.0f} MB of PCM streamed)",
        f"{float(growth):.0f} MB",
        "< 60 MB",
        float(growth) < 60,
    )
    row(
        "the same text read at once (server 300 ms a piece), all of it",
        f"{float(fast):.1f} s",
        "",
        None,
    )
