"""What happens at exit runs in one order, whatever the import order
(kuhu_driver/_exit_order.py): engines, sessions, network, local voices, audio. A
program imports our layers bottom-up (so Python's own ``atexit``, which runs handlers in
the reverse order of registration, would run the audio step first) and records the
steps as they run."""

from __future__ import annotations

import json
import subprocess
import sys

PROGRAM = r"""
import atexit, json, sys
import kuhu_driver.audio._miniaudio
import kuhu_driver.local._voice
import kuhu_driver.api._exit
import kuhu_driver.pipeline._session
import kuhu_driver.driver._atexit
from kuhu_driver import _exit_order

ran = []
for stage, steps in _exit_order._steps.items():
    for i, step in enumerate(steps):
        def wrapped(step=step, stage=stage):
            ran.append([stage, f"{step.__module__}.{step.__name__}"])
            step()
            if stage == _exit_order.STAGES[-1]:
                print(json.dumps(ran), flush=True)
        steps[i] = wrapped
"""


def test_exit_steps_run_in_stage_order_whatever_the_import_order() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=True
    )
    ran = json.loads(out.stdout.strip().splitlines()[-1])
    assert ran == [
        ["engines", "kuhu_driver.driver._atexit.shut_all_down"],
        ["sessions", "kuhu_driver.pipeline._session.close_default"],
        ["network", "kuhu_driver.api._exit.at_exit"],
        ["local voices", "kuhu_driver.local._voice._close_all"],
        ["audio", "kuhu_driver.audio._miniaudio._close_all"],
    ]


def test_no_module_of_ours_registers_with_atexit_itself() -> None:
    """One handler orders them all: a module registering its own would run out of order."""
    from pathlib import Path

    import kuhu_driver

    root = Path(kuhu_driver.__file__).parent
    own = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if "atexit.register" in p.read_text(encoding="utf-8")
    ]
    assert own == ["_exit_order.py"]
