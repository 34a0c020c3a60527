"""First sound over HTTPS through a slow link (0, 50 and 200 ms RTT), and one request's time
on a kept connection against a new one each time (the vendor demo's way)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

# Imported by run.py, which puts bench/ and tests/ on the path.
from common import (
    LATENCY,
    SENTENCE,
    row,
)
from rig import PulseRig

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
        client.line.http()  # built: its imports are not the network's cost
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
