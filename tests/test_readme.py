"""Every command and every Python snippet of the README runs, against the emulator."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kuhu_driver.testing import KuhuEmulator

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(sh|python)\n(.*?)```", README, flags=re.S)
SH_BLOCKS = [body for lang, body in BLOCKS if lang == "sh"]
COMMANDS = [
    line.strip()
    for body in SH_BLOCKS
    for line in body.splitlines()
    if line.strip() and not line.strip().startswith("#")
]
SNIPPETS = [body for lang, body in BLOCKS if lang == "python"]
# `./dev.sh test` is the command that runs this very test, and the key's export is
# replaced by the emulator's variables; both have tests of their own below.
SETUP_BLOCK = "./dev.sh demo\n./dev.sh test\n"
KEY_EXPORT = "export KUHU_API_KEY=your-key\n"


def test_the_readme_has_what_a_newcomer_needs() -> None:
    assert SETUP_BLOCK in SH_BLOCKS
    for heading in (
        "Quick start",
        "Properties",
        "Voices",
        "kuhu-say",
        "Cache and cost",
        "emulator",
        "What we promise",
        "Performance",
        "Troubleshooting",
    ):
        assert heading in README
    assert "PERFORMANCE_TABLE" not in README


def test_ci_runs_the_readmes_test_command() -> None:
    assert "./dev.sh test" in (ROOT / ".ci" / "run").read_text()


def _env(emu: KuhuEmulator) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, **emu.env(), "PATH": f"{venv_bin}:{os.environ['PATH']}"}


def test_readme_demo_command_without_a_key(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    """Run from another folder, as a user may: the file lands there, never in the
    repository (a user's own demo.wav there is not touched)."""
    env = {k: v for k, v in _env(kuhu_emulator).items() if not k.startswith("KUHU_")}
    proc = subprocess.run(
        ["bash", "-c", f"{ROOT}/dev.sh demo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "emulator" in proc.stderr
    assert (tmp_path / "demo.wav").read_bytes()[:4] == b"RIFF"


@pytest.mark.parametrize(
    "command", [c for c in COMMANDS if c.startswith("python -m kuhu_driver.testing")]
)
def test_readme_emulator_commands(
    command: str, kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    scheme = "https" if "--tls" in command else "http"
    with subprocess.Popen(
        shlex.split(command),
        env=_env(kuhu_emulator),
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as proc:
        assert proc.stdout is not None
        try:
            assert f"listening on {scheme}://127.0.0.1:" in proc.stdout.readline()
            assert proc.stdout.readline().startswith("export KUHU_API_KEY=")
        finally:
            proc.terminate()
            proc.stdout.close()


@pytest.mark.parametrize(
    "block",
    [
        b.replace(KEY_EXPORT, "")
        for b in SH_BLOCKS
        if b != SETUP_BLOCK and "python -m kuhu_driver.testing" not in b
    ],
)
def test_readme_commands(
    block: str, kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path
) -> None:
    env = _env(kuhu_emulator)
    if "--install-speechd" in block:
        env["HOME"] = str(tmp_path)  # the module goes into a home of the test's
    proc = subprocess.run(
        ["bash", "-e", "-c", block],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        input=f"{kuhu_emulator.api_key}\n\n",  # what --set-key asks for
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if "--batch" in block:
        assert sorted(p.name for p in (tmp_path / "clips").iterdir()) == ["0001.wav", "0002.wav"]
    if "--install-speechd" in block:
        assert (tmp_path / ".local/libexec/speech-dispatcher-modules/sd_kuhu").exists()
        assert "stored the key" in proc.stderr


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_readme_snippet(
    snippet: str, kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path
) -> None:
    env = _env(kuhu_emulator)
    if "def test_" in snippet:
        (tmp_path / "test_snippet.py").write_text(snippet)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_snippet.py"]
    else:
        argv = [sys.executable, "-c", snippet]
    proc = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if "def test_" in snippet:
        assert "1 passed" in proc.stdout
    elif "runAndWait" in snippet or "speak(" in snippet:
        assert len(capture.read()) > 0  # it was heard
