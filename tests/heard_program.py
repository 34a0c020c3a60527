"""A pyttsx3 program whose sound the real-time rig records (run as a subprocess).

    python heard_program.py MODE [LATENCY]

Prints one JSON line: the events with their times (time.monotonic(), which the test
process shares), what was sent (seconds of audio per utterance) and when each answer
left the emulator. Modes:

- ``seams``: a long utterance in several pieces, then two short ones queued.
- ``first``: one short utterance right after ``init``, then three more, one per round.
- ``idle``: one utterance 1 s after ``init``, one after 12 s of silence (the emulator
  closing connections idle for 5 s), then two more, one per round.
- ``network`` / ``network-first`` / ``network-late`` (``MODE LATENCY RTT IDLE``): over
  HTTPS and a link of RTT seconds, one utterance right after ``init`` (``-late``: 1 s
  after it), two more, then (``network`` only) one after IDLE seconds of silence and
  one more.
- ``stop-thread`` / ``stop-callback``: a long utterance stopped 0.6 s in (from a timer
  thread / from a word callback), one queued after it never heard, then one more round.
- ``outage-reset`` / ``outage-silent`` / ``outage-500``: the service down (connections
  reset, accepted and never answered, or 500s) for its first 8 s: three utterances, one
  per round, then one per round until the cloud's voice is back.
- ``slow``: a server that takes 5 s for every answer: three utterances, one per round.
- ``pause``: a long utterance, paused 1 s after it started (``kuhu_driver.pause``, from
  a timer thread) and resumed 2 s later.
- ``breaks``: SSML's, SAPI's and macOS's breaks of 700, 500 and 300 ms, one utterance
  each, in one round.
- ``vanish``: a long utterance, during which the test kills the sound server; the
  program then waits for a line on stdin (the server is back) and speaks again.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator, read_banner, read_stats

#: Three pieces (one sentence, 600 billed characters, the rest): 1,405 billed
#: characters, 7.0 s of audio at 5 ms per billed character.
LONG = (
    "这是第一句话，它要足够长，好让第二段在它说完之前就已经准备好了。" * 2
    + "第二段的内容比较长一些。" * 36
    + "最后一段话。" * 35
)
AUDIO_PER_CHAR = 0.005
#: For reading the emulator's log over HTTPS (``network`` modes; no roots until then).
STATS_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
#: The emulator's certificate, once ``start_emulator`` started one with ``--tls``.
CERTIFICATES: list[str] = []


def start_emulator(latency: float, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process: its work must not take our interpreter's time.
    With ``--tls``, this process trusts its certificate (and only this process)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kuhu_driver.testing",
            f"--latency={latency}",
            f"--audio-per-char={AUDIO_PER_CHAR}",
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    env, certificate = read_banner(proc.stdout)
    if certificate is not None:
        from kuhu_driver.api import _transport

        _transport.trust_also(certificate)
        STATS_CONTEXT.load_verify_locations(cafile=certificate)
        CERTIFICATES.append(certificate)
    os.environ.update(env)
    os.environ["KUHU_CACHE"] = "off"
    return proc, env["KUHU_API_URL"]


def main() -> None:
    mode = sys.argv[1]
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    emu = KuhuEmulator(audio_seconds_per_billed_char=AUDIO_PER_CHAR)  # for durations only
    extra = ["--idle-timeout=5"] if mode == "idle" or mode.startswith("network") else []
    if mode.startswith("outage-"):
        extra += [f"--outage={mode.split('-')[1]}", "--outage-seconds=8"]
    if mode == "slow":
        latency = 5.0
    if mode.startswith("network"):  # HTTPS through a link of RTT sys.argv[3] seconds
        extra += ["--tls", f"--rtt={sys.argv[3]}"]
    server, stats_url = start_emulator(latency, *extra)
    import pyttsx3

    out: dict[str, Any] = {"events": [], "sent": {}, "pieces": {}, "rounds": []}
    t_init = time.monotonic()
    engine = pyttsx3.init("kuhu")
    out["init"] = time.monotonic() - t_init
    out["backend"] = engine.proxy._driver._player.backend

    def log(*ev: Any) -> None:
        out["events"].append([time.monotonic(), *ev])

    engine.connect("started-utterance", lambda name: log("start", name))
    engine.connect("finished-utterance", lambda name, completed: log("finish", name, completed))
    engine.connect("error", lambda name, exception: log("error", name, type(exception).__name__))

    def say(text: str, name: str) -> None:
        pieces = [text[a:b] for a, b in speech_pieces(text)]
        out["sent"][name] = sum(emu.pcm_duration(p) for p in pieces)
        out["pieces"][name] = pieces
        engine.say(text, name)

    def run() -> None:
        out["rounds"].append(time.monotonic())
        engine.runAndWait()

    if mode == "seams":
        say(LONG, "long")
        say("第二句短的话。", "short1")
        say("third, in English.", "short2")
        run()
        player = engine.proxy._driver._player
        out["seam_gaps"] = list(getattr(player, "seam_gaps", []))
    elif mode == "first":
        for i in range(4):
            say(f"第{i}句话。", f"u{i}")
            run()
            time.sleep(0.3)
    elif mode == "idle":
        # A program that speaks now and then: 1 s after init, then after 12 s of silence
        # (the emulator closes connections idle for 5 s, as servers do), then twice more.
        for i, pause in enumerate((1.0, 12.0, 0.3, 0.3)):
            time.sleep(pause)
            say(f"第{i}句话。", f"u{i}")
            run()
    elif mode.startswith("network"):
        # Over HTTPS and a slow link: right after init (or 1 s after it), twice more, then
        # after sys.argv[4] seconds of silence (the emulator closing connections idle 5 s),
        # then once more.
        idle = float(sys.argv[4])
        pauses = {
            "network": (0.0, 0.3, 0.3, idle, 0.3),
            "network-first": (0.0, 0.3, 0.3),
            "network-late": (1.0, 0.3, 0.3),
        }[mode]
        for i, pause in enumerate(pauses):
            time.sleep(pause)
            say(f"第{i}句话。", f"u{i}")
            run()
    elif mode.startswith("stop-"):
        stopped: list[float] = []

        def stop() -> None:
            if not stopped:
                stopped.append(time.monotonic())
                engine.stop()

        def on_start(name: str) -> None:
            if name == "long" and mode == "stop-thread":
                threading.Timer(0.6, stop).start()

        def on_word(name: str, location: int, length: int) -> None:
            if name == "long" and mode == "stop-callback" and location >= 8:
                stop()

        engine.connect("started-utterance", on_start)
        engine.connect("started-word", on_word)
        say(LONG, "long")
        say("这句不应该听到。", "never")
        run()
        out["stop"] = stopped[0]
        time.sleep(0.5)
        say("停止以后还能说话。", "after")
        run()
    elif mode == "outage":
        # The cloud goes away before the first utterance and comes back later.
        url = os.environ["KUHU_API_URL"]
        server.terminate()
        server.wait()
        for i in range(3):
            say(f"第{i}句话。", f"down{i}")
            run()
        out["restart"] = time.monotonic()
        port = url.split(":")[2].split("/")[0]
        os.environ["KUHU_EMULATOR_KEY"] = os.environ["KUHU_API_KEY"]  # not on its argv
        server, stats_url = start_emulator(latency, f"--port={port}")
        i = 0
        while time.monotonic() - out["restart"] < 40:
            say(f"恢复{i}。", f"up{i}")
            run()
            if out["events"][-2][1] != "error":  # spoken by the cloud again
                break
            i += 1
            time.sleep(1.0)
    elif mode.startswith("outage-"):
        for i in range(3):
            say(f"第{i}句话。", f"down{i}")
            run()
        for i in range(60):
            say(f"恢复{i}。", f"up{i}")
            run()
            if out["events"][-2][1] != "error":  # spoken by the cloud again
                break
            time.sleep(0.3)
    elif mode == "slow":
        for i in range(3):
            say(f"慢的第{i}句。", f"u{i}")
            run()
            time.sleep(0.3)
    elif mode == "pause":
        import kuhu_driver

        def pause_now() -> None:
            out["pause"] = time.monotonic()
            kuhu_driver.pause(engine)

        def resume_now() -> None:
            out["resume"] = time.monotonic()
            kuhu_driver.resume(engine)

        def held(name: str) -> None:
            threading.Timer(1.0, pause_now).start()
            threading.Timer(3.0, resume_now).start()

        engine.connect("started-utterance", held)
        say(LONG, "long")
        run()
    elif mode == "breaks":
        engine.say('一<break time="700ms"/>二', "ssml")
        engine.say('Hello <silence msec="500"/> world', "sapi")
        engine.say("前[[slnc 300]]后", "mac")
        run()
    elif mode == "vanish":
        say(LONG, "long")
        print("speaking", flush=True)
        run()
        sys.stdin.readline()
        say("声音服务回来了。", "after")
        run()
    stats = read_stats(stats_url, os.environ["KUHU_API_KEY"], context=STATS_CONTEXT)
    out["requests"], out["arrived"] = stats["log"], stats["arrived"]
    if mode.startswith("outage-"):
        out["restart"] = stats["outage_ended"]
    engine.proxy._driver.destroy()
    server.terminate()
    server.wait()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
