"""What a user pays for, in money and time: batches under the rate limit, a key shared by
programs, and the cache."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# Imported by run.py, which puts bench/ and tests/ on the path.
from common import (
    LATENCY,
    PER_CHAR,
    SENTENCE,
    FirstPlay,
    row,
)


def bench_batch() -> None:
    import pyttsx3

    from kuhu_driver.cli import run_batch
    from kuhu_driver.pipeline import Properties, Synthesizer
    from kuhu_driver.testing import KuhuEmulator

    print("batch of 200 short texts (emulator 300 ms + 0.5 ms/billed char)")
    texts = [f"第{i}条通知：请注意。" for i in range(200)]

    def rate_of(emu: Any) -> float:
        arrivals = sorted(r.arrived for r in emu.requests)
        return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])

    with tempfile.TemporaryDirectory() as tmp:
        with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
            os.environ.update(emu.env())
            os.environ["KUHU_CACHE"] = "off"
            engine = pyttsx3.init("kuhu")
            for i, t in enumerate(texts):
                engine.save_to_file(t, str(Path(tmp) / f"e{i}.wav"))
            engine.runAndWait()
            engine.proxy._driver.destroy()
            r1, breaches1 = rate_of(emu), emu.rate_limit_breaches
        with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
            from kuhu_driver._config import resolve_settings

            settings = resolve_settings(api_key=emu.api_key, api_url=emu.url, cache=False)
            with Synthesizer.from_settings(settings) as synth:
                run_batch(list(enumerate(texts)), Path(tmp) / "b", synth, Properties().voicing())
            r2, breaches2 = rate_of(emu), emu.rate_limit_breaches
    for label, r, b in (
        ("pyttsx3 save_to_file queue", r1, breaches1),
        ("kuhu-say --batch", r2, breaches2),
    ):
        row(
            f"{label}: requests/s of 20 allowed", f"{r:.1f} ({r / 20:.0%})", ">= 90%", r / 20 >= 0.9
        )
        row(f"{label}: rate-limit breaches", str(b), "0", b == 0)


def bench_shared_key() -> None:
    """Three kuhu-say --batch processes with one key, the emulator in its own process."""

    from kuhu_driver.testing import read_stats

    print("three kuhu-say --batch processes sharing one key, 60 lines each")
    emu = subprocess.Popen(
        [sys.executable, "-m", "kuhu_driver.testing"], stdout=subprocess.PIPE, text=True
    )
    assert emu.stdout is not None
    try:
        lines = [emu.stdout.readline() for _ in range(3)]
        env = dict(os.environ)
        env.update(line.split()[1].split("=", 1) for line in lines[1:])
        env["KUHU_CACHE"] = "off"
        with tempfile.TemporaryDirectory() as tmp:
            procs = []
            for j in range(3):
                src = Path(tmp) / f"j{j}.txt"
                src.write_text("".join(f"第{j}号第{i}行\n" for i in range(60)), encoding="utf-8")
                argv = [sys.executable, "-m", "kuhu_driver", "--batch", str(src)]
                argv += ["--out-dir", str(Path(tmp) / f"o{j}")]
                procs.append(subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL))
            for proc in procs:
                proc.wait(300)
        stats = read_stats(env["KUHU_API_URL"], env["KUHU_API_KEY"])
    finally:
        emu.terminate()
        emu.wait(10)
        emu.stdout.close()
    times = sorted(t for _, _, t in stats["log"])
    rate = (len(times) - 1) / (times[-1] - times[0])
    ends = [max(t for text, _, t in stats["log"] if text.startswith(f"第{j}号")) for j in range(3)]
    row(
        "requests/s, all three together, of 20 allowed",
        f"{rate:.1f} ({rate / 20:.0%})",
        ">= 90%",
        rate / 20 >= 0.9,
    )
    peak = stats["max_requests_in_window"]
    row("most requests the server saw in any one second", str(peak), "<= 20", peak <= 20)
    row("requests over the limit (server's count)", str(stats["rate_limit_breaches"]), "0", None)
    spread = max(ends) - min(ends)
    row("spread of the three jobs' end times", f"{spread * 1000:.0f} ms", "small", None)


def bench_cache_hit() -> None:
    import pyttsx3

    from kuhu_driver.testing import KuhuEmulator

    print("cache hit (emulator 300 ms + 0.5 ms/billed char)")
    probe = FirstPlay()
    with (
        tempfile.TemporaryDirectory() as tmp,
        KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu,
    ):
        os.environ.update(emu.env())
        os.environ["KUHU_CACHE"] = "on"
        os.environ["KUHU_CACHE_DIR"] = tmp
        engine = pyttsx3.init("kuhu")
        engine.say(SENTENCE)
        engine.runAndWait()
        before = len(emu.requests)
        times = []
        for _ in range(5):
            probe.reset()
            t0 = time.monotonic()
            engine.say(SENTENCE)
            engine.runAndWait()
            assert probe.t is not None
            times.append(probe.t - t0)
        requests = len(emu.requests) - before
        engine.proxy._driver.destroy()
        os.environ["KUHU_CACHE"] = "off"
    med = statistics.median(times)
    row("time to first sound, cached sentence", f"{med * 1000:.1f} ms", "<= 20 ms", med <= 0.02)
    row("requests for 5 cached utterances", str(requests), "0", requests == 0)


#: Prints how long init itself took (the process's start and exit not counted).
