"""Six utterances, one call each, whose sound the real-time rig records (run as a
subprocess by bench/session.py).

    python speak_program.py MODE LATENCY RTT

Over HTTPS through a link of RTT seconds to the emulator (its own process, closing
connections idle 5 s); 0.3 s between calls. Modes:

- ``speak``: ``kuhu_driver.speak()`` six times (the default session);
- ``engine``: one pyttsx3 engine, ``say()`` + ``runAndWait()`` six times;
- ``say``: ``kuhu-say`` six times, a new process each (its ``main``, run by a Python that
  trusts the emulator's certificate: our code trusts no certificate from a setting).

Prints one JSON line: when each call was made (``rounds``) and when each request
reached the server (``arrived``), both on time.monotonic(), which the bench shares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from heard_program import CERTIFICATES, STATS_CONTEXT, start_emulator

from kuhu_driver.testing import read_stats

CALLS = 6
PAUSE = 0.3
#: kuhu-say in a process of its own, trusting the emulator's certificate (argv: the
#: certificate's path, then kuhu-say's arguments).
SAY = (
    "import sys\n"
    "from kuhu_driver.api import _transport\n"
    "_transport.trust_also(sys.argv[1])\n"
    "from kuhu_driver.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def main() -> None:
    mode, latency, rtt = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    server, stats_url, certificate = _emulator(latency, rtt)
    rounds: list[float] = []
    texts = [f"第{i}句话。" for i in range(CALLS)]
    if mode == "speak":
        import kuhu_driver

        for text in texts:
            time.sleep(PAUSE)
            rounds.append(time.monotonic())
            kuhu_driver.speak(text)
    elif mode == "engine":
        import pyttsx3

        engine = pyttsx3.init("kuhu")
        for text in texts:
            time.sleep(PAUSE)
            rounds.append(time.monotonic())
            engine.say(text)
            engine.runAndWait()
        engine.proxy._driver.destroy()
    elif mode == "say":
        for text in texts:
            time.sleep(PAUSE)
            rounds.append(time.monotonic())
            subprocess.run(
                [sys.executable, "-c", SAY, certificate, text], env=os.environ, check=True
            )
    stats = read_stats(stats_url, os.environ["KUHU_API_KEY"], context=STATS_CONTEXT)
    server.terminate()
    server.wait()
    out: dict[str, Any] = {"rounds": rounds, "arrived": stats["arrived"]}
    print(json.dumps(out), flush=True)


def _emulator(latency: float, rtt: str) -> tuple[subprocess.Popen[str], str, str]:
    server, url = start_emulator(latency, "--idle-timeout=5", "--tls", f"--rtt={rtt}")
    return server, url, CERTIFICATES[-1]


if __name__ == "__main__":
    main()
