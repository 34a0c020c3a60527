"""The session's section of the bench: ``speak()`` called six times, against one
engine's ``say()`` + ``runAndWait()`` six times and ``kuhu-say`` six times (a new
process each), over HTTPS through links of 0, 50 and 200 ms RTT, each RTT on a sound
server of its own (the three run side by side). For each call: when the request reached
the server, and when its first sound was heard, after the call."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from rig import PulseRig, run_recorded  # noqa: E402

LATENCY = 0.3
RTTS = (0.0, 0.05, 0.2)
MODES = ("speak", "engine", "say")
LABELS = {"speak": "speak()", "engine": "an engine's say()", "say": "kuhu-say"}


def _row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"  {name:<52} {value:>22}   {target:<16} {verdict}")


def _at(rtt: float) -> dict[str, list[tuple[float, float]]]:
    """Per mode, per call: (heard, request at the server), each after the call."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            for mode in MODES:
                proc, rec = run_recorded(
                    rig,
                    [str(HERE / "speak_program.py"), mode, str(LATENCY), str(rtt)],
                    {"KUHU_AUDIO": "miniaudio"},
                )
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr[-2000:])
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                times = [rec.time_of(i) for i in rec.sound()]
                results[mode] = [
                    (next(t for t in times if t >= call) - call, arrived - call)
                    for call, arrived in zip(out["rounds"], out["arrived"], strict=True)
                ]
        finally:
            rig.stop()
    return results


def bench_session() -> None:
    print(f"six calls in a row over HTTPS and a slow link (server {LATENCY * 1000:.0f} ms)")
    if not PulseRig.available():
        print("  pulseaudio not installed: ./dev.sh setup installs it")
        return
    with ThreadPoolExecutor(len(RTTS)) as pool:
        results = dict(zip(RTTS, pool.map(_at, RTTS), strict=True))
    for rtt, per_mode in results.items():
        print(f"  RTT {rtt * 1000:.0f} ms: heard (request at server) after the call")
        later = {
            mode: (
                statistics.median(h for h, _ in calls[1:]),
                statistics.median(a for _, a in calls[1:]),
            )
            for mode, calls in per_mode.items()
        }
        for mode in MODES:
            first_heard, first_at = per_mode[mode][0]
            heard, at_server = later[mode]
            _row(
                f"    {LABELS[mode]}, call 1",
                f"{first_heard * 1000:.0f} ms ({first_at * 1000:.0f})",
                "",
                None,
            )
            ok = None
            target = ""
            if mode == "speak":
                d_heard = heard - later["engine"][0]
                d_at = at_server - later["engine"][1]
                ok = d_heard <= 0.03 and d_at <= 0.03
                target = "engine + 30"
            _row(
                f"    {LABELS[mode]}, calls 2-6 (median)",
                f"{heard * 1000:.0f} ms ({at_server * 1000:.0f})",
                target,
                ok,
            )


if __name__ == "__main__":
    bench_session()
