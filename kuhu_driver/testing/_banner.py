"""What ``python -m kuhu_driver.testing`` prints before it serves, and how a program that
started it reads that."""

from __future__ import annotations

from typing import IO

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
