"""Windows consoles, simulated: code pages through PYTHONIOENCODING (cp1252 is what a
pipe or a file gets on a Western Windows, cp936 on a Chinese one). kuhu-say never dies
of an encoding, and reads its text as UTF-8 whatever the code page: mojibake would be
sent and billed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kuhu_driver.api import VOICES
from kuhu_driver.testing import KuhuEmulator, read_banner
from kuhu_driver.testing._banner import CERTIFICATE, READY_LINE
from kuhu_driver.testing._main import env_lines

CODE_PAGES = ["cp1252", "cp936"]


def kuhu_say(
    *args: str, code_page: str = "cp1252", stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": code_page, "KUHU_API_KEY": "k"}
    return subprocess.run(
        [sys.executable, "-m", "kuhu_driver", *args],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=60,
    )


@pytest.mark.parametrize("code_page", CODE_PAGES)
def test_listing_voices_and_help_into_a_pipe_never_die_of_the_code_page(code_page: str) -> None:
    for args in (["--list-voices"], ["--help"]):
        proc = kuhu_say(*args, code_page=code_page)
        assert proc.returncode == 0, proc.stderr.decode(code_page, "replace")
        assert b"Traceback" not in proc.stderr
    listed = kuhu_say("--list-voices", "--json", code_page=code_page)
    assert listed.returncode == 0
    rows = json.loads(listed.stdout.decode(code_page))  # valid JSON, nothing lost
    assert [r["name"] for r in rows] == [v.name for v in VOICES]


@pytest.mark.parametrize("code_page", CODE_PAGES)
def test_piped_text_is_read_as_utf8_whatever_the_code_page(code_page: str) -> None:
    for text in ("你好世界".encode(), b"\xef\xbb\xbf" + "你好世界".encode()):
        proc = kuhu_say("--dry-run", "-f", "-", code_page=code_page, stdin=text)
        assert proc.returncode == 0, proc.stderr
        assert b"billed characters: 8\n" in proc.stdout.replace(b"\r\n", b"\n")


def test_text_that_is_not_utf8_is_one_clear_error_and_nothing_billed() -> None:
    proc = kuhu_say("--dry-run", "-f", "-", code_page="cp936", stdin="你好".encode("gbk"))
    assert proc.returncode == 1
    err = proc.stderr.decode("cp936", "replace")
    assert err.startswith("kuhu-say: error: cannot read standard input: it is not UTF-8")
    assert "Traceback" not in err


def test_a_file_saved_with_a_bom_is_billed_without_it(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbf" + "你好".encode())
    proc = kuhu_say("--dry-run", "-f", str(tmp_path / "a.txt"), code_page="cp1252")
    assert b"billed characters: 4\n" in proc.stdout
    (tmp_path / "lines.txt").write_bytes(b"\xef\xbb\xbf" + "第一条\n第二条\n".encode())
    proc = kuhu_say("--dry-run", "--batch", str(tmp_path / "lines.txt"), "--out-dir", str(tmp_path))
    assert b"billed characters: 12\n" in proc.stdout, proc.stdout  # no BOM in line 1


def test_powershell_51_text_files_and_pipes(tmp_path: Path) -> None:
    """PowerShell 5.1, simulated by the bytes it writes: its ``>`` and ``Out-File`` write
    UTF-16LE with a BOM (read as text, not refused); it pipes to programs as ASCII, so
    Chinese arrives as question marks (one clear error with the fix, nothing billed);
    and CRLF line ends bill and cache like LF."""
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        (tmp_path / "ps.txt").write_bytes(bom + "你好世界\r\n".encode(codec))
        proc = kuhu_say("--dry-run", "-f", str(tmp_path / "ps.txt"), code_page="cp1252")
        assert proc.returncode == 0, proc.stderr
        assert b"billed characters: 8\n" in proc.stdout.replace(b"\r\n", b"\n")
    proc = kuhu_say("--dry-run", "-f", "-", code_page="cp1252", stdin=b"????\r\n")
    assert proc.returncode == 1
    err = proc.stderr.decode("cp1252")
    assert "only question marks" in err and "$OutputEncoding" in err


def test_crlf_line_ends_are_sent_billed_and_cached_as_lf(kuhu_emulator: KuhuEmulator) -> None:
    """A file written on Windows: the same request as its LF twin, not one with a space
    billed before every line end (and another cache key)."""
    import kuhu_driver

    lf, crlf = "一句话写在\n两行上。\n", "一句话写在\r\n两行上。\r\n"
    assert b"".join(kuhu_driver.stream(crlf)) == b"".join(kuhu_driver.stream(lf))
    reqs = kuhu_emulator.requests
    half = len(reqs) // 2
    assert [r.text for r in reqs[half:]] == [r.text for r in reqs[:half]]
    assert sum(r.billed for r in reqs[half:]) == sum(r.billed for r in reqs[:half]) == 16 + 1


def test_a_closed_pipe_is_a_quiet_exit_on_windows_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows reports a reader that went away as EINVAL, not EPIPE."""
    import errno

    from kuhu_driver.cli import _main

    def closed(*_: object, **__: object) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(_main, "list_voices", closed)
    monkeypatch.setattr(os, "dup2", lambda *_: None)
    assert _main.main(["--list-voices"]) == 0


def test_the_emulator_says_how_to_set_its_variables_in_each_shell() -> None:
    env = {"KUHU_API_KEY": "emu-1", "KUHU_API_URL": "http://127.0.0.1:1/api"}
    assert env_lines(env, "linux") == [
        "export KUHU_API_KEY=emu-1",
        "export KUHU_API_URL=http://127.0.0.1:1/api",
    ]
    lines = env_lines(env, "win32")
    assert lines[:2] == ["set KUHU_API_KEY=emu-1", "set KUHU_API_URL=http://127.0.0.1:1/api"]
    assert '#  PowerShell: $env:KUHU_API_KEY="emu-1"' in lines


@pytest.mark.parametrize("platform", ["linux", "win32"])
def test_a_program_that_started_the_emulator_reads_its_banner_on_each_shell(
    platform: str,
) -> None:
    env = {"KUHU_API_KEY": "emu-1", "KUHU_API_URL": "https://127.0.0.1:1/api"}
    printed = [
        "kuhu emulator listening on https://127.0.0.1:1/api",
        *env_lines(env, platform),
        f"{CERTIFICATE}/tmp/cert.pem",
        READY_LINE,
        "anything after it is not read",
    ]
    stream = io.StringIO("".join(line + "\n" for line in printed))
    assert read_banner(stream) == (env, "/tmp/cert.pem")
    assert stream.readline() == "anything after it is not read\n"
    with pytest.raises(RuntimeError, match="ended before it was ready"):
        read_banner(io.StringIO("kuhu emulator listening on http://127.0.0.1:1/api\n"))
