"""What ``python -m kuhu_driver.testing`` prints before it serves, and how a program that
started it reads that."""

from __future__ import annotations

from typing import IO, Any

#: The last line printed before the emulator serves.
READY_LINE = "(Ctrl-C to stop; its audio is a test signal, not a voice)"
#: Before the certificate's path (with ``--tls``).
CERTIFICATE = "# certificate: "


def read_banner(stream: IO[str]) -> tuple[dict[str, str], str | None]:
    """What ``python -m kuhu_driver.testing`` prints before it serves, read from its
    output: the variables to set, and the path of its certificate (with ``--tls``)."""
    env: dict[str, str] = {}
    certificate = None
    while (line := stream.readline()) and not line.startswith(READY_LINE):
        if line.startswith(("export ", "set ")):
            name, value = line.split(" ", 1)[1].strip().split("=", 1)
            env[name] = value
        elif line.startswith(CERTIFICATE):
            certificate = line[len(CERTIFICATE) :].strip()
    if not line:
        raise RuntimeError("the emulator ended before it was ready")
    return env, certificate


#: GET this path for the emulator's counters as JSON (for an emulator in another
#: process), with its key in this header (never in the URL).
STATS_PATH = "/_emulator/stats"
STATS_KEY_HEADER = "X-Emulator-Key"


def read_stats(api_url: str, key: str, *, context: Any = None) -> dict[str, Any]:
    """The counters and request log of the emulator serving ``api_url`` (in another
    process), asked with its key: they hold every request's text."""
    import json
    import urllib.request

    if not api_url.startswith(("http://", "https://")):
        raise ValueError(f"not an emulator's URL: {api_url!r}")
    url = api_url.split("/api/")[0] + STATS_PATH
    req = urllib.request.Request(url, headers={STATS_KEY_HEADER: key})  # noqa: S310 - checked
    with urllib.request.urlopen(req, timeout=10, context=context) as resp:  # noqa: S310
        data: dict[str, Any] = json.load(resp)
    return data
