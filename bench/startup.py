"""Start-up (``init``, imports, the .pth hook) and memory (a long save's peak)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Imported by run.py, which puts bench/ and tests/ on the path.
from common import (
    row,
)

INIT_ALONE = (
    "import time, pyttsx3; t0 = time.perf_counter(); e = pyttsx3.init('kuhu'); "
    "print(time.perf_counter() - t0)"
)


def timed(argv: list[str], env: dict[str, str], runs: int = 20) -> tuple[float, float]:
    """Median and fastest of ``runs`` fresh interpreters: their wall time, or the time
    they print."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        took = time.monotonic() - t0
        times.append(float(out.stdout) if out.stdout.strip() else took)
    return statistics.median(times), min(times)


def bench_start_up() -> None:
    print("start-up (median, and fastest, of 20 fresh interpreters, taken in turn)")
    env = {**os.environ, "KUHU_API_KEY": "bench", "KUHU_CACHE": "off"}
    py = sys.executable
    # Byte-compiled first, as pip does when it installs a wheel (an editable install, or
    # PYTHONDONTWRITEBYTECODE, would leave every start compiling our modules again).
    import kuhu_driver

    subprocess.run(
        [py, "-m", "compileall", "-q", str(Path(kuhu_driver.__file__).parent)],
        check=True,
        capture_output=True,
    )
    kuhu, kuhu_min = timed([py, "-c", "import pyttsx3; pyttsx3.init('kuhu')"], env)
    dummy, dummy_min = timed([py, "-c", "import pyttsx3; pyttsx3.init('dummy')"], env)
    bare, bare_min = timed([py, "-c", "pass"], env)
    row(
        "python -c \"import pyttsx3; pyttsx3.init('kuhu')\"",
        f"{kuhu * 1000:.0f} ms ({kuhu_min * 1000:.0f})",
        "<= 150 ms",
        kuhu <= 0.15,
    )
    inside, inside_min = timed([py, "-c", INIT_ALONE], env)
    row(
        "pyttsx3.init('kuhu') alone, pyttsx3 imported",
        f"{inside * 1000:.0f} ms ({inside_min * 1000:.0f})",
        "<= 100 ms",
        inside <= 0.1,
    )
    row(
        "python -c \"import pyttsx3; pyttsx3.init('dummy')\"",
        f"{dummy * 1000:.0f} ms ({dummy_min * 1000:.0f})",
        "",
        None,
    )
    row("python -c pass (for scale)", f"{bare * 1000:.0f} ms ({bare_min * 1000:.0f})", "", None)
    out = subprocess.run(
        [py, "-X", "importtime", "-c", "pass"], env=env, capture_output=True, text=True
    )
    hook = [line for line in out.stderr.splitlines() if line.rstrip().endswith("kuhu_driver_hook")]
    cumulative = int(hook[0].split("|")[1]) if hook else -1
    row("the .pth hook at interpreter start (-X importtime)", f"{cumulative} us", "", None)


# Peak RSS from /proc: ru_maxrss would include the forking parent's size before exec.
MEMORY_PROGRAM = r"""
import sys
import pyttsx3
engine = pyttsx3.init("kuhu")
engine.save_to_file(sys.argv[1] * int(sys.argv[2]), sys.argv[3])
engine.runAndWait()
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
"""


def bench_memory() -> None:
    from kuhu_driver.testing import KuhuEmulator

    print("memory of save_to_file (peak RSS, VmHWM, of a fresh interpreter)")
    unit = "一段用来测量内存的文字。"  # 23 billed
    with tempfile.TemporaryDirectory() as tmp, KuhuEmulator() as emu:
        env = {**os.environ, **emu.env(), "KUHU_CACHE": "off"}
        peaks = {}
        for label, count in (("short", 4), ("200,000 billed", 200_000 // 23)):
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_PROGRAM, unit, str(count), str(Path(tmp) / "m.wav")],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
            )
            peaks[label] = int(out.stdout.split()[-1]) / 1024
            size = (Path(tmp) / "m.wav").stat().st_size
            (Path(tmp) / "m.wav").unlink()
            row(
                f"peak RSS, {label} text ({size / 1e6:.1f} MB written)",
                f"{peaks[label]:.0f} MB",
                "",
                None,
            )
    growth = peaks["200,000 billed"] - peaks["short"]
    row("growth over the short text", f"{growth:.0f} MB", "< 50 MB", growth < 50)
