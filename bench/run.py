"""Speed and memory figures of kuhu_driver, measured side by side in one run.

    .venv/bin/python bench/run.py            (about six minutes)
    .venv/bin/python bench/run.py network    (only the sections whose names say so)

Against the emulator with 300 ms latency plus 0.5 ms of synthesis per billed
character; for the network figures, over HTTPS through a slow link (SlowLink) of 0, 50
and 200 ms round trip. Sound goes to the ALSA capture rig (unpaced) for first-sound
figures and to a PulseAudio null sink (real time) for what is heard; see tests/rig.py.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "examples"))  # the asyncio example's ticker

from costs import bench_batch, bench_cache_hit, bench_shared_key  # noqa: E402
from day import bench_day_outage, bench_soak, bench_stream_memory  # noqa: E402
from heard import bench_heard, bench_outage  # noqa: E402
from network import bench_network  # noqa: E402
from rig import PulseRig  # noqa: E402
from screen_reader import bench_speechd  # noqa: E402
from session import bench_session  # noqa: E402
from speed import bench_first_sound, bench_stream  # noqa: E402
from startup import bench_memory, bench_start_up  # noqa: E402


def main() -> None:
    only = sys.argv[1:]  # e.g. "memory": run only the sections whose names contain it

    def run(sections: list[Callable[[], None]]) -> None:
        for section in sections:
            if only and not any(word in section.__name__ for word in only):
                continue
            section()
            print()

    # First, with no sound server running: start-up and memory need none, and its
    # recorder's load would be in their figures.
    run([bench_start_up, bench_memory, bench_stream_memory, bench_network, bench_session])
    run([bench_soak, bench_day_outage, bench_speechd])  # each with a sound server of its own
    with tempfile.TemporaryDirectory() as tmp:
        rig = PulseRig(Path(tmp))
        rig.start()
        # In-process sections play to the exact, paced capture rig.
        os.environ.update({k: rig.capture_env[k] for k in ("HOME", "XDG_RUNTIME_DIR")})
        os.environ["PULSE_SERVER"] = rig.capture_env["PULSE_SERVER"]
        run(
            [
                bench_heard,
                bench_outage,
                bench_first_sound,
                bench_stream,
                bench_cache_hit,
                bench_batch,
                bench_shared_key,
            ]
        )
        rig.stop()


if __name__ == "__main__":
    threading.excepthook = lambda args: None  # keep the report readable
    main()
