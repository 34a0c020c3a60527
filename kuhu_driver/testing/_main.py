"""``python -m kuhu_driver.testing``: the emulator on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from ._emulator import KuhuEmulator


def emulator_main(argv: Sequence[str] | None = None) -> int:
    """``python -m kuhu_driver.testing``: run the emulator until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m kuhu_driver.testing",
        description="Run the kuhuyun API emulator on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--key", help="API key to accept (default: a random one)")
    parser.add_argument("--secret", help="require signed requests with this secret")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--per-char", type=float, default=0.0, help="synthesis seconds per billed character"
    )
    parser.add_argument(
        "--audio-per-char",
        type=float,
        default=0.08,
        help="seconds of test audio per billed character (default 0.08)",
    )
    parser.add_argument("--error-style", choices=("status", "json"), default="status")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="close keep-alive connections idle this many seconds, as servers do",
    )
    args = parser.parse_args(argv)
    emu = KuhuEmulator(
        api_key=args.key,
        api_secret=args.secret,
        latency=args.latency,
        seconds_per_billed_char=args.per_char,
        audio_seconds_per_billed_char=args.audio_per_char,
        error_style=args.error_style,
        port=args.port,
    )
    emu.idle_timeout = args.idle_timeout
    with emu:
        print(f"kuhu emulator listening on {emu.url}", flush=True)
        for line in env_lines(emu.env(), sys.platform):
            print(line, flush=True)
        print("(Ctrl-C to stop; its audio is a test signal, not a voice)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def env_lines(env: dict[str, str], platform: str) -> list[str]:
    """How to set ``env`` in this platform's shell: ``export`` (POSIX shells); on
    Windows, ``set`` for cmd, then the same for PowerShell as comments."""
    if platform != "win32":
        return [f"export {name}={value}" for name, value in env.items()]
    cmd = [f"set {name}={value}" for name, value in env.items()]
    powershell = [f'#  PowerShell: $env:{name}="{value}"' for name, value in env.items()]
    return [*cmd, *powershell]
