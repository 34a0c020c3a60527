"""An emulator of the synthesis API, for our tests and yours: ``KuhuEmulator`` (a real
HTTP server on 127.0.0.1), the ``kuhu_emulator`` pytest fixture (registered when
kuhu_driver is installed), and ``python -m kuhu_driver.testing`` to run one on its own.

Layer: beside the top; uses the leaves and ``audio``'s codecs, never ``api`` (it is the
other side of the wire).
"""

from __future__ import annotations

from ._banner import STATS_KEY_HEADER, STATS_PATH, read_banner, read_stats
from ._emulator import FAULTS, Fault, KuhuEmulator
from ._record import EmulatorRequest
from ._signal import other_rate
from ._slowlink import SlowLink
from ._tls import self_signed
from ._vendor import vendor_billed

__all__ = [
    "FAULTS",
    "STATS_KEY_HEADER",
    "STATS_PATH",
    "EmulatorRequest",
    "Fault",
    "KuhuEmulator",
    "SlowLink",
    "other_rate",
    "read_banner",
    "read_stats",
    "self_signed",
    "vendor_billed",
]
