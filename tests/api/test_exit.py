"""Leaving the interpreter while our background threads work (kuhu_driver/api/_exit.py):
the exit waits for work inside ``held_at_exit`` (OpenSSL, imports), closes the clients
so that calls under way end at once, and refuses new work; a program that ends soon
after ``init`` ends cleanly, whenever it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kuhu_driver.api import _exit
from kuhu_driver.errors import StoppedError
from kuhu_driver.testing import KuhuEmulator


def run_program(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_the_exit_waits_for_held_work_and_then_refuses_more() -> None:
    gate = _exit.ExitGate()  # one of its own: closing the process's would end its calls
    entered, finished = threading.Event(), threading.Event()

    def work() -> None:
        with gate.held():
            entered.set()
            time.sleep(0.3)
            finished.set()

    threading.Thread(target=work, daemon=True).start()
    assert entered.wait(5)
    t0 = time.monotonic()
    assert gate.close(wait=5.0) is True
    assert finished.is_set() and time.monotonic() - t0 >= 0.2
    with pytest.raises(StoppedError, match="exiting"), gate.held():
        pass


def test_the_exit_wait_is_bounded() -> None:
    gate = _exit.ExitGate()
    release, entered = threading.Event(), threading.Event()

    def stuck() -> None:
        with gate.held():
            entered.set()
            release.wait(10)

    threading.Thread(target=stuck, daemon=True).start()
    assert entered.wait(5)
    t0 = time.monotonic()
    assert gate.close(wait=0.2) is False
    assert time.monotonic() - t0 < 1.0
    release.set()


def test_a_lookup_or_connect_is_not_waited_for_and_cannot_go_on_after_exit() -> None:
    gate = _exit.ExitGate()
    in_connect, go_on = threading.Event(), threading.Event()
    outcome: list[str] = []

    def call() -> None:
        try:
            with gate.held():
                with gate.released():
                    in_connect.set()
                    go_on.wait(10)
                outcome.append("went on")  # pragma: no cover - must not happen
        except StoppedError:
            outcome.append("cancelled")

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    assert in_connect.wait(5)
    assert gate.close(wait=0.5) is True  # not held: the exit did not wait
    go_on.set()
    thread.join(5)
    assert outcome == ["cancelled"]
    assert gate._inside == 0
    # Outside a held block, releasing does nothing.
    with gate.released():
        pass


def test_closing_the_gate_closes_its_clients_and_a_request_under_way_ends(
    kuhu_emulator: KuhuEmulator,
) -> None:
    from kuhu_driver.api import KuhuClient

    kuhu_emulator.latency = 5.0
    client = KuhuClient(kuhu_emulator.api_key, api_url=kuhu_emulator.url, max_attempts=1)
    gate = _exit.ExitGate()
    gate.track(client)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            client.synthesize("你好。")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    end = time.monotonic() + 5
    while not kuhu_emulator.requests and time.monotonic() < end:
        time.sleep(0.01)
    t0 = time.monotonic()
    assert gate.close(wait=3.0) is True
    thread.join(5)
    assert time.monotonic() - t0 < 1.0  # the request's socket was shut: 5 s not waited
    assert len(errors) == 1 and isinstance(errors[0], StoppedError)
    client.close()  # again: nothing happens


def test_the_interpreter_exits_only_after_held_work_is_done(tmp_path: Path) -> None:
    """In a real exit: a daemon thread's held block runs to its end before the process
    ends (a block cut by the exit would not write its last line)."""
    marker = tmp_path / "done"
    proc = run_program(
        f"""
        import threading, time
        from kuhu_driver.api import held_at_exit
        started = threading.Event()
        def work():
            with held_at_exit():
                started.set()
                time.sleep(0.4)
                open({str(marker)!r}, "w").write("whole")
        threading.Thread(target=work, daemon=True).start()
        started.wait()
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert marker.read_text() == "whole"


@pytest.mark.parametrize("pause", [0.0, 0.21, 0.24, 0.27, 0.3, 0.35, 0.5])
def test_a_program_ending_soon_after_init_ends_cleanly(
    pause: float, kuhu_emulator: KuhuEmulator
) -> None:
    """Whenever it ends while the connection is being opened ahead and the audio library
    loaded (0.2 s after init, for about 0.2 s): exit status 0, nothing printed, no hang.
    Without the exit's wait, 9 of 60 such runs went wrong: a segmentation fault in
    OpenSSL, a hang on the import lock, or an error printed at finalization."""
    for _ in range(3):
        proc = run_program(
            f"""
            import time, pyttsx3
            engine = pyttsx3.init("kuhu")
            time.sleep({pause})
            """,
            env={**kuhu_emulator.env(), "KUHU_CACHE": "off"},
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
