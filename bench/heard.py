"""What is heard, at a real-time sink: seams, first sound, after idle, ``stop()``, and the
local voice through an outage."""

from __future__ import annotations

import statistics
import tempfile
from array import array
from pathlib import Path
from typing import Any

# Imported by run.py, which puts bench/ and tests/ on the path.
from common import (
    LATENCY,
    row,
)
from rig import RATE, PulseRig


def bench_heard() -> None:
    """What a listener hears, recorded at a real-time device, for both backends."""
    from heard_program import AUDIO_PER_CHAR
    from rig import expected_signal, run_heard

    print("heard at a real-time device (PulseAudio null sink's monitor), by backend")
    if not PulseRig.available():
        print("  pulseaudio not installed: ./dev.sh setup installs it")
        return
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            for backend in ("miniaudio", "simpleaudio"):
                print(f"  backend {backend}")
                heard_seams(rig, backend, AUDIO_PER_CHAR, expected_signal, run_heard)
                heard_first_sound(rig, backend, run_heard)
                if backend == "miniaudio":
                    heard_after_idle(rig, run_heard)
                heard_stop(rig, backend, run_heard)
                heard_pause(rig, backend, run_heard)
            heard_breaks(rig, run_heard)
        finally:
            rig.stop()


def heard_seams(rig: Any, backend: str, per_char: float, expected: Any, run_heard: Any) -> None:
    added, overlap, worst = [], [], []
    for _ in range(3):
        out, rec = run_heard(rig, "seams", backend)
        pieces = [p for ps in out["pieces"].values() for p in ps]
        exp = array("h", expected(pieces, per_char))
        loud_exp = [i for i, v in enumerate(exp) if abs(v) > 300]
        sent = (loud_exp[-1] - loud_exp[0]) / RATE
        loud = rec.sound()
        heard = (loud[-1] - loud[0]) / RATE
        gaps = rec.silences(loud[0], loud[-1])
        added.append(sum(gaps))
        worst.append(max(gaps, default=0.0))
        overlap.append(max(0.0, sum(gaps) - (heard - sent)))
        span = (heard, sent)
    row(
        "    silence added at seams, 3 pieces + 2 utterances",
        f"{statistics.median(added) * 1000:.1f} ms (worst {max(worst) * 1000:.1f})",
        "0 ms",
        max(added) < 0.001,
    )
    row(
        "    audio lost (overlapped, or cut at a stream's start)",
        f"{statistics.median(overlap) * 1000:.1f} ms",
        "0 ms",
        max(overlap) < 0.001,
    )
    row("    heard span / audio sent", f"{span[0]:.3f} / {span[1]:.3f} s", "", None)


def heard_first_sound(rig: Any, backend: str, run_heard: Any) -> None:
    """From runAndWait to the first sound heard; and from the server's answer to it."""
    firsts: list[list[float]] = []
    overheads: list[list[float]] = []
    for _ in range(3):
        out, rec = run_heard(rig, "first", backend, latency=LATENCY)
        loud = rec.sound()
        times = [rec.time_of(i) for i in loud]
        answered = {text: t for text, outcome, t in out["requests"] if outcome == "ok"}
        f, o = [], []
        for i, t_run in enumerate(out["rounds"]):
            heard = next(t for t in times if t >= t_run)
            f.append(heard - t_run)
            o.append(heard - answered[out["pieces"][f"u{i}"][0]])
        firsts.append(f)
        overheads.append(o)
    first_after_init = statistics.median(f[0] for f in firsts)
    later = statistics.median(x for f in firsts for x in f[1:])
    o_first = statistics.median(o[0] for o in overheads)
    o_later = statistics.median(x for o in overheads for x in o[1:])
    row(
        "    first sound after runAndWait: 1st utterance after init",
        f"{first_after_init * 1000:.0f} ms",
        "",
        None,
    )
    row("    first sound after runAndWait: later utterances", f"{later * 1000:.0f} ms", "", None)
    row(
        "    ... after the server's answer: 1st / later",
        f"{o_first * 1000:.0f} / {o_later * 1000:.0f} ms",
        "<= 30 ms",
        max(o_first, o_later) <= 0.03,
    )


def heard_after_idle(rig: Any, run_heard: Any) -> None:
    """A program that speaks now and then: 1 s after init, after 12 s of silence (the
    emulator closing connections idle 5 s), and right after (first sound after
    runAndWait)."""
    out, rec = run_heard(rig, "idle", "miniaudio", latency=LATENCY)
    times = [rec.time_of(i) for i in rec.sound()]
    f = [next(t for t in times if t >= t_run) - t_run for t_run in out["rounds"]]
    later = statistics.median(f[2:])
    for label, value in (("1 s after init", f[0]), ("after 12 s idle", f[1])):
        row(
            f"    first sound, {label} (server closes idle conns at 5 s)",
            f"{value * 1000:.0f} ms (+{(value - later) * 1000:.0f})",
            "<= later + 30",
            value - later <= 0.03,
        )
    row("    first sound, right after those", f"{later * 1000:.0f} ms", "", None)


#: Round-trip times of the slow link in front of the emulator (HTTPS), and the idle time.
def bench_outage() -> None:
    """The cloud down, then back: first sound heard in the local voice, and the cloud's
    voice again."""
    from rig import run_heard

    print("outage: the local voice (eSpeak NG) while the emulator is stopped, then back")
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            firsts, laters, backs = [], [], []
            for _ in range(3):
                out, rec = run_heard(rig, "outage", latency=LATENCY, env={"KUHU_FALLBACK": "local"})
                heard = [rec.time_of(i) for i in rec.sound()]
                f = [next(t for t in heard if t >= t_run) - t_run for t_run in out["rounds"]]
                firsts.append(f[0])
                laters.extend(f[1:3])
                fell_back = {e[2] for e in out["events"] if e[1] == "error"}
                back = next(
                    e[0] for e in out["events"] if e[1] == "start" and e[2] not in fell_back
                )
                backs.append(back - out["restart"])
        finally:
            rig.stop()
    row(
        "  first sound heard, 1st utterance of the outage",
        f"{statistics.median(firsts) * 1000:.0f} ms (worst {max(firsts) * 1000:.0f})",
        "<= 2000 ms",
        max(firsts) <= 2.0,
    )
    row(
        "  first sound heard, later utterances",
        f"{statistics.median(laters) * 1000:.0f} ms (worst {max(laters) * 1000:.0f})",
        "",
        None,
    )
    row(
        "  cloud voice back after the server restarts",
        f"{statistics.median(backs):.1f} s (worst {max(backs):.1f})",
        "<= 5 s",
        max(backs) <= 5,
    )


def heard_stop(rig: Any, backend: str, run_heard: Any) -> None:
    for mode in ("stop-thread", "stop-callback"):
        lat = []
        for _ in range(3):
            out, rec = run_heard(rig, mode, backend)
            t_after = next(e[0] for e in out["events"] if e[1:] == ["start", "after"])
            before = [rec.time_of(i) for i in rec.sound()]
            last = max(t for t in before if t < t_after)
            lat.append(last - out["stop"])
        row(
            f"    stop() ({mode[5:]}) to silence heard, median / worst",
            f"{statistics.median(lat) * 1000:.0f} / {max(lat) * 1000:.0f} ms",
            "<= 50 ms",
            max(lat) <= 0.05,
        )


def heard_pause(rig: Any, backend: str, run_heard: Any) -> None:
    """kuhu_driver.pause(engine) 1 s in, resume() 2 s later: when each is heard, and
    whether what is heard either side adds up to what was sent (nothing lost or
    repeated)."""
    quiet, back, extra, gaps = [], [], [], []
    for _ in range(3):
        out, rec = run_heard(rig, "pause", backend)
        loud = rec.sound()
        k = max(range(len(loud) - 1), key=lambda j: loud[j + 1] - loud[j])
        quiet.append(rec.time_of(loud[k]) - out["pause"])
        back.append(rec.time_of(loud[k + 1]) - out["resume"])
        gaps.append((loud[k + 1] - loud[k]) / RATE)
        heard = (loud[k] - loud[0] + loud[-1] - loud[k + 1]) / RATE
        extra.append(heard - _sent_span(out))
    row(
        "    pause() to silence heard, median / worst",
        f"{statistics.median(quiet) * 1000:.0f} / {max(quiet) * 1000:.0f} ms",
        "<= 50 ms",
        max(quiet) <= 0.05,
    )
    row(
        "    resume() to sound heard, median / worst",
        f"{statistics.median(back) * 1000:.0f} / {max(back) * 1000:.0f} ms",
        "",
        None,
    )
    row(
        "    heard less sent (repeated +, lost -), worst",
        f"{max(extra, key=abs) * 1000:+.1f} ms",
        "0 ms",
        max(abs(x) for x in extra) < 0.003,
    )
    row("    silence heard for a 2 s pause, median", f"{statistics.median(gaps):.3f} s", "", None)


def _sent_span(out: dict[str, Any]) -> float:
    from heard_program import AUDIO_PER_CHAR
    from rig import expected_signal

    pieces = [p for ps in out["pieces"].values() for p in ps]
    exp = array("h", expected_signal(pieces, AUDIO_PER_CHAR))
    loud = [i for i, v in enumerate(exp) if abs(v) > 300]
    return (loud[-1] - loud[0]) / RATE


def heard_breaks(rig: Any, run_heard: Any) -> None:
    """Breaks of SSML, SAPI and macOS in a pyttsx3 program: the silence heard between
    the words, at the real-time device (the exact capture test holds them to the
    sample; here, what the sound server makes of them)."""
    print("  breaks heard (miniaudio), asked / heard, worst of 3 runs")
    worst: dict[int, float] = {}
    for _ in range(3):
        _out, rec = run_heard(rig, "breaks")
        loud = rec.sound()
        runs = sorted(rec.silences(loud[0], loud[-1]), reverse=True)[:3]
        for asked, heard in zip((700, 500, 300), sorted(runs, reverse=True), strict=True):
            off = heard * 1000 - asked
            worst[asked] = max(worst.get(asked, 0.0), off, key=abs)
    for asked, off in worst.items():
        row(f"    break of {asked} ms", f"{asked + off:.1f} ms", "+-1 ms", abs(off) <= 1)
