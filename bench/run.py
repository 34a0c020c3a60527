"""Speed and memory figures of kuhu_driver, measured side by side in one run.

    .venv/bin/python bench/run.py            (about six minutes)
    .venv/bin/python bench/run.py network    (only the sections whose names say so)

Against the emulator with 300 ms latency plus 0.5 ms of synthesis per billed
character; for the network figures, over HTTPS through a slow link (SlowLink) of 0, 50
and 200 ms round trip. Sound goes to the ALSA capture rig (unpaced) for first-sound
figures and to a PulseAudio null sink (real time) for what is heard; see tests/rig.py.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from day import bench_day_outage, bench_soak, bench_stream_memory  # noqa: E402
from rig import RATE, PulseRig  # noqa: E402

LATENCY = 0.3
PER_CHAR = 0.0005
SENTENCE = "第一句话在这里。"
FILLER = "这是一段很长的文字，用来测试第一声来得有多快。"


def long_text(billed: int) -> str:
    from kuhu_driver._text import billed_chars

    text = SENTENCE
    while billed_chars(text) < billed:
        text += FILLER
    return text


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"  {name:<52} {value:>22}   {target:<16} {verdict}")


class FirstPlay:
    """Records when the first piece is handed to the audio stream (what is heard is
    measured by bench_heard, at the device)."""

    def __init__(self) -> None:
        from kuhu_driver.audio import _miniaudio

        self.t: float | None = None
        original = _miniaudio.MiniaudioPlayer.enqueue

        def enqueue(player: Any, seg: Any) -> None:
            if self.t is None:
                self.t = time.monotonic()
            original(player, seg)

        _miniaudio.MiniaudioPlayer.enqueue = enqueue  # type: ignore[method-assign]

    def reset(self) -> None:
        self.t = None


def first_sound(engine: Any, probe: FirstPlay, text: str) -> float:
    # An utterance on its own: the previous run's requests left the rate-limit window.
    time.sleep(1.2)
    probe.reset()
    token = engine.connect("started-utterance", lambda name: engine.stop())
    t0 = time.monotonic()
    engine.say(text)
    engine.runAndWait()
    engine.disconnect(token)
    assert probe.t is not None
    return probe.t - t0


def vendor_first_sound(emu: Any, text: str) -> float:
    """The vendor demo's way: one 2000-character request, wait for all of it, then play."""
    from kuhu_driver.api import KuhuClient
    from kuhu_driver.pipeline import chunk_text

    with KuhuClient(emu.api_key, api_url=emu.url) as client:
        t0 = time.monotonic()
        first = chunk_text(text, limit=2000)[0]
        client.synthesize(first, format="pcm")  # then it would start to play
        return time.monotonic() - t0


def bench_first_sound() -> None:
    import pyttsx3

    from kuhu_driver._text import billed_chars
    from kuhu_driver.testing import KuhuEmulator

    print("first piece handed to the audio stream (emulator 300 ms + 0.5 ms/billed char)")
    probe = FirstPlay()
    text = long_text(20_000)
    with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
        os.environ.update(emu.env())
        os.environ["KUHU_CACHE"] = "off"
        engine = pyttsx3.init("kuhu")
        one = [first_sound(engine, probe, SENTENCE) for _ in range(5)]
        many = [first_sound(engine, probe, text) for _ in range(5)]
        vendor = [vendor_first_sound(emu, text) for _ in range(3)]
        engine.proxy._driver.destroy()
    m1, m2, mv = statistics.median(one), statistics.median(many), statistics.median(vendor)
    row(f"one sentence ({billed_chars(SENTENCE)} billed)", f"{m1 * 1000:.0f} ms", "", None)
    row(f"long text ({billed_chars(text)} billed)", f"{m2 * 1000:.0f} ms", "", None)
    row("ratio long / sentence", f"{m2 / m1:.2f}", "<= 1.1", m2 / m1 <= 1.1)
    row("vendor demo's way (2000 chars, then play)", f"{mv * 1000:.0f} ms", "", None)


def bench_stream() -> None:
    """stream() and astream(): first chunk for a sentence and for a long text, and how
    long the event loop ever waits while astream()/aspeak() work."""
    import asyncio

    import kuhu_driver
    from kuhu_driver._text import billed_chars
    from kuhu_driver.testing import KuhuEmulator

    print("stream() / astream(): first chunk (emulator 300 ms + 0.5 ms/billed char)")
    text = long_text(20_000)

    def first_sync(t: str) -> float:
        t0 = time.monotonic()
        it = kuhu_driver.stream(t)
        next(it)
        took = time.monotonic() - t0
        it.close()
        return took

    async def first_async(t: str) -> float:
        t0 = time.monotonic()
        it = kuhu_driver.astream(t)
        await it.__anext__()
        took = time.monotonic() - t0
        await it.aclose()
        return took

    async def stall_during(work: Callable[[], Any]) -> tuple[float, float]:
        gaps: list[float] = []

        async def tick() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        t0 = time.monotonic()
        await work()
        took = time.monotonic() - t0
        ticker.cancel()
        return max(gaps) - 0.01, took

    async def drain(t: str) -> None:
        async for _ in kuhu_driver.astream(t):
            pass

    with KuhuEmulator(latency=LATENCY, seconds_per_billed_char=PER_CHAR) as emu:
        os.environ.update(emu.env())
        os.environ["KUHU_CACHE"] = "off"
        results = {}
        for name, measure in (("stream", first_sync), ("astream", None)):
            for label, t in (("sentence", SENTENCE), ("long", text)):
                if measure is not None:
                    results[name, label] = [measure(t) for _ in range(5)]
                else:
                    results[name, label] = [asyncio.run(first_async(t)) for _ in range(5)]
        stream_stall, stream_took = asyncio.run(stall_during(lambda: drain(text)))
        emu.audio_seconds_per_billed_char = 0.005
        spoken = long_text(1000)
        speak_stall, speak_took = asyncio.run(stall_during(lambda: kuhu_driver.aspeak(spoken)))
    for name in ("stream", "astream"):
        one = statistics.median(results[name, "sentence"])
        many = statistics.median(results[name, "long"])
        row(f"{name}(), one sentence", f"{one * 1000:.0f} ms", "", None)
        row(f"{name}(), long text ({billed_chars(text)} billed)", f"{many * 1000:.0f} ms", "", None)
        row(f"{name}(), ratio long / sentence", f"{many / one:.2f}", "<= 1.1", many / one <= 1.1)
    row(
        f"event loop's longest wait, astream() of the long text ({stream_took:.1f} s)",
        f"{stream_stall * 1000:.1f} ms",
        "< 50 ms",
        stream_stall < 0.05,
    )
    row(
        f"event loop's longest wait, aspeak() of {speak_took:.1f} s of speech",
        f"{speak_stall * 1000:.1f} ms",
        "< 50 ms",
        speak_stall < 0.05,
    )


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
RTTS = (0.0, 0.05, 0.2)
IDLE = 60.0


def bench_network() -> None:
    """First sound over HTTPS through links of 0, 50 and 200 ms RTT, heard at a sink of
    its own per RTT (the three run side by side): right after init (median of 4
    programs), 1 s after it (median of 3), later utterances (median of 15), and after
    60 s of silence with the server closing idle connections at 5 s. Then the request
    alone, our way (connection kept open) and the vendor demo's (a new connection per
    request)."""
    from concurrent.futures import ThreadPoolExecutor

    from rig import run_heard

    print(f"first sound over HTTPS and a slow link (server 300 ms; idle {IDLE:g} s)")
    if not PulseRig.available():
        print("  pulseaudio not installed: ./dev.sh setup installs it")
        return

    def at(rtt: float) -> dict[str, tuple[float, float]]:
        """(heard, request arrived), each after its runAndWait, per case."""
        with tempfile.TemporaryDirectory() as tmp:
            rig = PulseRig(Path(tmp))
            rig.start()
            try:
                args = (str(rtt), str(IDLE))
                runs = []  # one with the long idle, three each of the short programs
                for mode in ("network", *["network-late"] * 3, *["network-first"] * 3):
                    out, rec = run_heard(rig, mode, latency=LATENCY, args=args)
                    times = [rec.time_of(i) for i in rec.sound()]
                    runs.append(
                        [
                            (next(t for t in times if t >= r) - r, arrived - r)
                            for r, arrived in zip(out["rounds"], out["arrived"], strict=True)
                        ]
                    )
            finally:
                rig.stop()
        f, lates, firsts = runs[0], runs[1:4], runs[4:]
        rest = [*f[1:3], f[4], *(x for short in runs[1:] for x in short[1:])]

        def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
            return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)

        return {
            "right after init": median([f[0], *(first[0] for first in firsts)]),
            "1 s after init": median([late[0] for late in lates]),
            "later": median(rest),
            "after idle": f[3],
        }

    with ThreadPoolExecutor(len(RTTS)) as pool:
        results = dict(zip(RTTS, pool.map(at, RTTS), strict=True))
    for rtt, r in results.items():
        later, sent = r["later"]
        print(f"  RTT {rtt * 1000:.0f} ms")
        row(
            "    later utterances: heard (request at server)",
            f"{later * 1000:.0f} ms ({sent * 1000:.0f})",
            "",
            None,
        )
        for label in ("right after init", "1 s after init", "after idle"):
            value, at_server = r[label]
            row(
                f"    {label}",
                f"{value * 1000:.0f} ms ({at_server * 1000:.0f}), {(value - later) * 1000:+.0f}",
                "<= later + 30",
                value - later <= 0.03,
            )
        ours, vendor = request_times(rtt)
        row("    request answered, connection kept open", f"{ours * 1000:.0f} ms", "", None)
        row("    ... vendor demo's way: new connection each", f"{vendor * 1000:.0f} ms", "", None)


def request_times(rtt: float) -> tuple[float, float]:
    """A request's time to its answer over HTTPS through a link of ``rtt``: on a kept
    connection (ours), and on a new one each time (the vendor demo's way)."""
    from kuhu_driver.api import _transport
    from kuhu_driver.testing import self_signed

    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(tmp)
        _transport.trust_also(cert)
        try:
            return _request_times(cert, key, rtt)
        finally:
            _transport._also_trusted.remove(cert)


def _request_times(cert: str, key: str, rtt: float) -> tuple[float, float]:
    from kuhu_driver.api import KuhuClient
    from kuhu_driver.testing import KuhuEmulator, SlowLink

    def ask(client: KuhuClient) -> float:
        client._http()  # built: its imports are not the network's cost
        t0 = time.monotonic()
        client.synthesize(SENTENCE)
        return time.monotonic() - t0

    with (
        KuhuEmulator(latency=LATENCY, tls_cert=cert, tls_key=key) as emu,
        SlowLink(("127.0.0.1", emu.port), rtt=rtt) as link,
    ):
        url = link.url(emu.url)
        with KuhuClient(emu.api_key, api_url=url) as kept:
            ask(kept)
            ours = statistics.median(ask(kept) for _ in range(3))
        vendor = []
        for _ in range(3):
            with KuhuClient(emu.api_key, api_url=url) as fresh:
                vendor.append(ask(fresh))
    return ours, statistics.median(vendor)


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


def bench_batch() -> None:
    import pyttsx3

    from kuhu_driver.pipeline import Properties, Synthesizer, run_batch
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


def main() -> None:
    only = sys.argv[1:]  # e.g. "memory": run only the sections whose names contain it

    def run(sections: list[Callable[[], None]]) -> None:
        for section in sections:
            if only and not any(word in section.__name__ for word in only):
                continue
            section()
            print()

    # First, with no sound server running: start-up and memory need none, and its
    # recorder's load would be in their figures.
    run([bench_start_up, bench_memory, bench_stream_memory, bench_network])
    run([bench_soak, bench_day_outage])  # each with a sound server of its own
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        # In-process sections play to the exact, paced capture rig.
        os.environ.update({k: rig.capture_env[k] for k in ("HOME", "XDG_RUNTIME_DIR")})
        os.environ["PULSE_SERVER"] = rig.capture_env["PULSE_SERVER"]
        run(
            [
                bench_heard,
                bench_outage,
                bench_first_sound,
                bench_stream,
                bench_cache_hit,
                bench_batch,
                bench_shared_key,
            ]
        )
        rig.stop()


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # keep the report readable
    main()
