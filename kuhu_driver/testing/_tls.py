"""A certificate for 127.0.0.1 that no authority signed, for the emulator's HTTPS.

Made with the ``openssl`` command (on Debian: ``apt install openssl``). kuhu_driver
trusts it only where a test says so (``kuhu_driver.api._transport.trust_also``): no
setting or environment variable can make a client trust it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def self_signed(folder: str | Path, *, days: int = 2) -> tuple[str, str]:
    """A new certificate and key for 127.0.0.1 in ``folder``: (cert.pem, key.pem)."""
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("making a test certificate needs the openssl command")
    cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    subprocess.run(  # noqa: S603 - openssl found on PATH, fixed arguments
        [
            exe,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            str(days),
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)
