"""Speed and memory figures of kuhu_driver, measured side by side in one run.

    .venv/bin/python bench/run.py            (about three minutes)

Against the emulator with 300 ms latency plus 0.5 ms of synthesis per billed
character. Sound goes to the ALSA capture rig (unpaced) for first-sound figures and to
a PulseAudio null sink (real time) for gaps; see shared/audio-test-rig.md.
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

from rig import PulseRig, make_capture_home  # noqa: E402

LATENCY = 0.3
PER_CHAR = 0.0005
SENTENCE = "第一句话在这里。"
FILLER = "这是一段很长的文字，用来测试第一声来得有多快。"


def long_text(billed: int) -> str:
    from kuhu_driver.text import billed_chars

    text = SENTENCE
    while billed_chars(text) < billed:
        text += FILLER
    return text


def row(name: str, value: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("meets" if ok else "MISSES")
    print(f"  {name:<52} {value:>22}   {target:<16} {verdict}")


class FirstPlay:
    """Records when simpleaudio is first asked to play."""

    def __init__(self) -> None:
        from kuhu_driver import playback

        self.t: float | None = None
        original = playback.SimpleaudioPlayer.play

        def play(player: Any, pcm: bytes, rate: int) -> Any:
            if self.t is None:
                self.t = time.monotonic()
            return original(player, pcm, rate)

        playback.SimpleaudioPlayer.play = play  # type: ignore[method-assign]

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
    from kuhu_driver.client import KuhuClient
    from kuhu_driver.playback import SimpleaudioPlayer
    from kuhu_driver.text import chunk_text

    with KuhuClient(emu.api_key, api_url=emu.url) as client:
        t0 = time.monotonic()
        first = chunk_text(text, limit=2000)[0]
        pcm = client.synthesize(first, format="pcm")
        SimpleaudioPlayer().play(pcm, 22050).stop()
        return time.monotonic() - t0


def bench_first_sound() -> None:
    import pyttsx3

    from kuhu_driver.testing import KuhuEmulator
    from kuhu_driver.text import billed_chars

    print("first sound (capture rig; emulator 300 ms + 0.5 ms/billed char)")
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


GAP_PROGRAM = r"""
import json, sys
import pyttsx3
engine = pyttsx3.init("kuhu")
mode = sys.argv[1]
if mode == "pieces":
    s1 = "这是第一句话，它需要足够长，才能在第二段准备好之前一直播放下去，这就是为什么。"
    text = s1 + "第二段的内容。" * 80 + "第三段。" * 200
    for i in range(2):
        engine.say(text, f"u{i}")
else:
    for i in range(8):
        engine.say(f"第{i}句短短的话。", f"u{i}")
engine.runAndWait()
"""


def silent_runs(
    raw: bytes, rate: int, threshold: int = 100, min_ms: float = 2.0
) -> list[tuple[int, int]]:
    samples = array("h", raw[: len(raw) - len(raw) % 2])
    loud = [i for i, s in enumerate(samples) if abs(s) > threshold]
    if not loud:
        return []
    runs = []
    min_len = int(rate * min_ms / 1000)
    prev = loud[0]
    for i in loud[1:]:
        if i - prev > min_len:
            runs.append((prev + 1, i))
        prev = i
    return runs


def bench_gaps() -> None:
    from kuhu_driver.testing import KuhuEmulator

    print("silence we add (real-time rig: PulseAudio null sink; median / worst)")
    if not PulseRig.available():
        print("  pulseaudio not installed: ./dev.sh setup installs it")
        return
    rate = 22050
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        try:
            for mode, label, expected in (
                ("pieces", "between pieces of one utterance (2 x 3 pieces)", 5),
                ("utterances", "between queued utterances (8 short)", 7),
            ):
                heard = Path(tmp) / f"{mode}.raw"
                rec = rig.record(heard, rate)
                rig.warm_up()
                with KuhuEmulator(
                    latency=LATENCY,
                    seconds_per_billed_char=PER_CHAR,
                    audio_seconds_per_billed_char=0.01,
                ) as emu:
                    subprocess.run(
                        [sys.executable, "-c", GAP_PROGRAM, mode],
                        env={**rig.env, **emu.env(), "KUHU_CACHE": "off"},
                        check=True,
                        timeout=300,
                    )
                time.sleep(0.5)
                rec.terminate()
                rec.wait()
                raw = heard.read_bytes()
                # The warm-up silence comes first; look only at the program's sound.
                gaps = [(b - a) / rate * 1000 for a, b in silent_runs(raw, rate)]
                gaps = sorted(gaps)[-expected:] if len(gaps) >= expected else gaps
                worst = max(gaps) if gaps else 0.0
                med = statistics.median(gaps) if gaps else 0.0
                row(label, f"{med:.1f} / {worst:.1f} ms", "<= 30 ms", worst <= 30)
                if len(gaps) < expected:
                    row(
                        "  (boundaries with no silence >= 2 ms)",
                        str(expected - len(gaps)),
                        "",
                        None,
                    )
        finally:
            rig.stop()


def bench_batch() -> None:
    import pyttsx3

    from kuhu_driver.batch import run_batch
    from kuhu_driver.properties import Properties
    from kuhu_driver.speech import Synthesizer
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
            from kuhu_driver.config import resolve_settings

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


def timed(argv: list[str], env: dict[str, str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.monotonic() - t0)
    return statistics.median(times)


def bench_start_up() -> None:
    print("start-up (median of 10 fresh interpreters)")
    env = {**os.environ, "KUHU_API_KEY": "bench", "KUHU_CACHE": "off"}
    py = sys.executable
    kuhu = timed([py, "-c", "import pyttsx3; pyttsx3.init('kuhu')"], env)
    dummy = timed([py, "-c", "import pyttsx3; pyttsx3.init('dummy')"], env)
    bare = timed([py, "-c", "pass"], env)
    row(
        "python -c \"import pyttsx3; pyttsx3.init('kuhu')\"",
        f"{kuhu * 1000:.0f} ms",
        "<= 150 ms",
        kuhu <= 0.15,
    )
    row("python -c \"import pyttsx3; pyttsx3.init('dummy')\"", f"{dummy * 1000:.0f} ms", "", None)
    row("python -c pass (for scale)", f"{bare * 1000:.0f} ms", "", None)
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
    with tempfile.TemporaryDirectory() as home:
        make_capture_home(Path(home))
        os.environ["HOME"] = home  # ALSA's default device: the capture rig
        sections: list[Callable[[], None]] = [
            bench_first_sound,
            bench_cache_hit,
            bench_batch,
            bench_start_up,
            bench_memory,
            bench_gaps,
        ]
        for section in sections:
            if only and not any(word in section.__name__ for word in only):
                continue
            section()
            print()


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # keep the report readable
    main()
