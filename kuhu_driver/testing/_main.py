"""``python -m kuhu_driver.testing``: the emulator on its own, until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ._banner import CERTIFICATE, READY_LINE
from ._emulator import KuhuEmulator
from ._slowlink import SlowLink
from ._tls import self_signed


def emulator_main(argv: Sequence[str] | None = None) -> int:
    """``python -m kuhu_driver.testing``: run the emulator until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m kuhu_driver.testing",
        description="Run the kuhuyun API emulator on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument(
        "--key",
        help="API key to accept (default: KUHU_EMULATOR_KEY, else a random one); every "
        "user of the machine can read a command line: prefer --key-file or the variable",
    )
    parser.add_argument("--key-file", help="read the API key to accept from this file")
    parser.add_argument(
        "--secret",
        help="require signed requests with this secret (default: KUHU_EMULATOR_SECRET); "
        "prefer --secret-file or the variable",
    )
    parser.add_argument("--secret-file", help="read the signing secret from this file")
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
    parser.add_argument(
        "--rtt", type=float, default=0.0, help="round-trip time of a slow link in front (s)"
    )
    parser.add_argument(
        "--bandwidth", type=float, default=None, help="that link's bytes per second each way"
    )
    parser.add_argument(
        "--outage",
        choices=("500", "reset", "silent"),
        help="start with the whole service down: every request fails so",
    )
    parser.add_argument(
        "--outage-seconds",
        type=float,
        default=None,
        help="end the outage after this many seconds (default: never)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="HTTPS with a new self-signed certificate (needs openssl; printed as a "
        "comment: kuhu_driver trusts it only where a test's code says so)",
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        return _serve(args, stack)


def _serve(args: argparse.Namespace, stack: contextlib.ExitStack) -> int:
    tls: tuple[str, str] | tuple[None, None] = (None, None)
    if args.tls:
        tls = self_signed(stack.enter_context(tempfile.TemporaryDirectory()))
    emu = KuhuEmulator(
        api_key=_given(args.key, args.key_file, "KUHU_EMULATOR_KEY"),
        api_secret=_given(args.secret, args.secret_file, "KUHU_EMULATOR_SECRET"),
        latency=args.latency,
        seconds_per_billed_char=args.per_char,
        audio_seconds_per_billed_char=args.audio_per_char,
        error_style=args.error_style,
        port=args.port,
        tls_cert=tls[0],
        tls_key=tls[1],
    )
    emu.idle_timeout = args.idle_timeout
    emu.outage = args.outage
    with emu:
        if args.outage and args.outage_seconds is not None:
            emu.end_outage_after(args.outage_seconds)
        env = emu.env()
        if args.rtt or args.bandwidth:
            link = stack.enter_context(
                SlowLink(("127.0.0.1", emu.port), rtt=args.rtt, bandwidth=args.bandwidth)
            )
            env["KUHU_API_URL"] = link.url(emu.url)
        banner = [f"kuhu emulator listening on {env['KUHU_API_URL']}"]
        banner += env_lines(env, sys.platform)
        if tls[0] is not None:
            banner.append(f"{CERTIFICATE}{tls[0]}")
        banner.append(READY_LINE)
        # The command's output, read by people and by programs (``read_banner``).
        sys.stdout.write("".join(line + "\n" for line in banner))
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _given(value: str | None, file: str | None, variable: str) -> str | None:
    """A key or secret: from the command line, else a file, else the environment."""
    if value:
        return value
    if file:
        return Path(file).read_text(encoding="utf-8").strip() or None
    return os.environ.get(variable) or None


def env_lines(env: dict[str, str], platform: str) -> list[str]:
    """How to set ``env`` in this platform's shell: ``export`` (POSIX shells); on
    Windows, ``set`` for cmd, then the same for PowerShell as comments."""
    if platform != "win32":
        return [f"export {name}={value}" for name, value in env.items()]
    cmd = [f"set {name}={value}" for name, value in env.items()]
    powershell = [f'#  PowerShell: $env:{name}="{value}"' for name, value in env.items()]
    return [*cmd, *powershell]
