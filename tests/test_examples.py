"""Every example runs against the emulator, with its sound captured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import expected_pcm

from kuhu_driver.testing import KuhuEmulator

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, emu: KuhuEmulator, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        env={**os.environ, **emu.env(), "KUHU_CACHE": "off"},
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def test_unmodified_pyttsx3_program(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    proc = run_example("pyttsx3_program.py", kuhu_emulator)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "started welcome",
        "finished welcome completed=True",
        "started faster",
        "finished faster completed=True",
    ]
    assert capture.read() == expected_pcm(kuhu_emulator, "你好，欢迎使用酷湖语音。") + expected_pcm(
        kuhu_emulator, "This sentence is a little faster.", rate=1.2
    )


def test_line_reader_speaks_each_line(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    proc = run_example("line_reader.py", kuhu_emulator, input="第一行\n\n第二行\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["line 1: done", "line 3: done"]
    assert capture.read() == expected_pcm(kuhu_emulator, "第一行") + expected_pcm(
        kuhu_emulator, "第二行"
    )


def test_word_highlight(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    proc = run_example("word_highlight.py", kuhu_emulator)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line]
    assert lines[0] == "[欢]迎 to kuhu_driver: 每个字都会被高亮。"
    assert "欢迎 to [kuhu_driver]: 每个字都会被高亮。" in lines
    assert lines[-1] == "欢迎 to kuhu_driver: 每个字都会被高[亮]。"
    assert capture.read() == expected_pcm(kuhu_emulator, "欢迎 to kuhu_driver: 每个字都会被高亮。")


def test_testing_your_app_example_passes() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(EXAMPLES / "test_my_app.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_line_reader_stops_on_ctrl_c(kuhu_emulator: KuhuEmulator, pulse: Any) -> None:
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "line_reader.py")],
        env={**pulse.env, **kuhu_emulator.env(), "KUHU_CACHE": "off"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("一二三四五六七八九十。" * 5 + "\n")  # about 9 s of speech
    proc.stdin.flush()
    time.sleep(1.5)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 130
    assert "interrupted" in err
    assert "done" not in out
