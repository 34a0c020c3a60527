"""Windows and macOS file semantics, simulated (kuhu_driver/_files.py): a target held
open by another program, a folder that refuses new files, a disk flush."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import expected_pcm

from kuhu_driver import _files
from kuhu_driver.audio import parse_wav
from kuhu_driver.cli import main
from kuhu_driver.testing import KuhuEmulator


def held_open(
    monkeypatch: pytest.MonkeyPatch, held: Path, times: int | None
) -> list[tuple[Any, Any]]:
    """Replacing ``held`` fails as on Windows while another program has it open:
    ``times`` times (None: for good). Other renames work. No real sleeping."""
    calls: list[tuple[Any, Any]] = []
    real = os.replace

    def replace(src: Any, dst: Any, **dir_fds: Any) -> None:
        # A name in a folder opened by descriptor (a resumable save's) is matched by name.
        if Path(dst) == held or (dir_fds.get("dst_dir_fd") is not None and dst == held.name):
            calls.append((src, dst))
            if times is None or len(calls) <= times:
                raise PermissionError(13, "The process cannot access the file")
        real(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    return calls


def test_a_replace_is_retried_while_the_target_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = held_open(monkeypatch, tmp_path / "old", times=3)
    (tmp_path / "new").write_bytes(b"new")
    (tmp_path / "old").write_bytes(b"old")
    _files.replace(tmp_path / "new", tmp_path / "old")
    assert len(calls) == 4 and (tmp_path / "old").read_bytes() == b"new"


@pytest.mark.parametrize("billed", [20, 3000], ids=["short", "resumable"])
def test_an_output_held_open_keeps_the_paid_audio_beside_it(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    billed: int,
) -> None:
    out = tmp_path / "out.wav"
    held_open(monkeypatch, out, times=None)  # a media player holds out.wav for good
    out.write_bytes(b"the old file")
    text = "一句要保存的话。" * max(1, billed // 16)
    assert main([text, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    kept = tmp_path / "out.new.wav"
    assert f"the new audio is in {kept}" in err
    assert out.read_bytes() == b"the old file"
    assert parse_wav(kept.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.new.wav", "out.wav"]


def test_subtitles_held_open_are_kept_beside_and_the_audio_is_written(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A video editor holds talk.srt: the audio is written, the new subtitles are kept
    as talk.new.srt, and the one error line says where."""
    out, srt = tmp_path / "talk.wav", tmp_path / "talk.srt"
    held_open(monkeypatch, srt, times=None)
    srt.write_text("the old subtitles")
    text = "第一句话。第二句话。"
    assert main([text, "--out", str(out), "--subtitles", str(srt)]) == 1
    err = capsys.readouterr().err
    assert f"the subtitles are in {tmp_path / 'talk.new.srt'}" in err
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    assert srt.read_text() == "the old subtitles"
    assert "第二句话。" in (tmp_path / "talk.new.srt").read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.new.srt", "talk.srt", "talk.wav"]


def test_a_progress_file_refused_for_a_moment_does_not_end_a_long_save(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An antivirus or OneDrive holds state.json (rewritten after every piece) for a
    moment: the rename is retried and the save goes on to the end."""
    out = tmp_path / "book.wav"
    calls = held_open(monkeypatch, tmp_path / "state.json", times=2)
    text = "一句要保存的话。" * 200  # resumable: more than one piece
    assert main([text, "--out", str(out)]) == 0
    assert len(calls) > 2  # refused twice, then taken, piece after piece
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)


def test_a_folder_that_refuses_new_files_is_found_before_anything_is_billed(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows ACLs, Controlled Folder Access, macOS privacy: os.access says yes, and
    creating a file fails. Simulated: creating fails while os.access still says yes."""
    import tempfile

    def refuse(*_: Any, **__: Any) -> Any:
        raise PermissionError(13, "Access is denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert os.access(tmp_path, os.W_OK)
    assert main(["你好", "--out", str(tmp_path / "a.wav")]) == 1
    assert main(["--batch", str(_lines(tmp_path)), "--out-dir", str(tmp_path / "clips")]) == 1
    assert kuhu_emulator.requests == []


def _lines(tmp_path: Path) -> Path:
    path = tmp_path.parent / f"{tmp_path.name}-lines.txt"
    path.write_text("第一条\n第二条\n", encoding="utf-8")
    return path


def test_full_sync_uses_f_fullfsync_on_macos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    asked: list[int] = []
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(fcntl, "F_FULLFSYNC", 51, raising=False)
    monkeypatch.setattr(fcntl, "fcntl", lambda fd, op: asked.append(op))
    monkeypatch.setattr(os, "fsync", lambda fd: asked.append(-1))
    with (tmp_path / "f").open("wb") as f:
        _files.full_sync(f.fileno())
    assert asked == [51]  # the real flush; fsync alone does not reach the disk there


def test_a_long_output_name_gets_a_short_temporary_name(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows' 260-character paths: the temporary file does not repeat a long name."""
    import tempfile

    seen: list[str] = []
    real = tempfile.mkstemp

    def spy(*args: Any, **kw: Any) -> Any:
        fd, name = real(*args, **kw)
        seen.append(Path(name).name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    out = tmp_path / ("很长的文件名" * 10 + ".wav")  # 64 characters
    assert main(["你好", "--out", str(out)]) == 0
    part = [name for name in seen if name.endswith(".part")]
    assert part and all(len(name) < 60 for name in part), part
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, "你好")


def test_a_file_system_without_locks_is_a_warning_not_a_refusal(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A network file system refuses locks with ENOLCK: only "busy" means another writer."""
    import errno

    from kuhu_driver import _filelock

    def no_locks(fd: int, *, wait: bool) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(_filelock, "take", no_locks)
    text = "一句要保存的话。" * 200  # long enough to keep its pieces (and to lock them)
    assert main([text, "--out", str(tmp_path / "a.wav")]) == 0
    assert any("cannot lock the save" in r.getMessage() for r in caplog.records)

    def held(fd: int, *, wait: bool) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(_filelock, "take", held)
    assert main([text, "--out", str(tmp_path / "b.wav")]) == 1  # another writer: refused


def test_a_guard_also_closes_the_socket_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from kuhu_driver.api._transport import Cut, Guard

    calls: list[str] = []

    class Sock(socket.socket):
        def shutdown(self, how: int) -> None:
            calls.append("shutdown")

        def close(self) -> None:
            calls.append("close")
            super().close()

    for platform, expected in (("linux", ["shutdown"]), ("win32", ["shutdown", "close"])):
        monkeypatch.setattr(sys, "platform", platform)
        sock = Sock()
        calls.clear()
        guard = Guard()
        guard.watch(sock)
        guard.fire(Cut.STOPPED)
        assert calls == expected, platform
        socket.socket.close(sock)


class FakeKernel32:
    """The calls of Windows' kernel32 that _files makes, on a machine of ``running``
    processes: hidden attributes are recorded."""

    def __init__(self, running: set[int]) -> None:
        self.running = running
        self.hidden: list[tuple[str, int]] = []
        self.error = 0

    def SetFileAttributesW(self, path: str, attributes: int) -> int:
        self.hidden.append((path, attributes))
        return 1

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:
        if pid in self.running:
            return 10_000 + pid
        self.error = 87  # ERROR_INVALID_PARAMETER: no such process
        return 0

    def GetLastError(self) -> int:
        return self.error

    def GetExitCodeProcess(self, handle: int, code: Any) -> int:
        code._obj.value = 259  # STILL_ACTIVE
        return 1

    def CloseHandle(self, handle: int) -> int:
        return 1


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> FakeKernel32:
    """_files on Windows (its platform checks say win32; kernel32 is the fake), the
    rest of the process as it is."""
    import ctypes
    import types

    kernel32 = FakeKernel32(running={os.getpid()})
    monkeypatch.setattr(_files, "sys", types.SimpleNamespace(platform="win32"))
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(kernel32=kernel32), raising=False)
    return kernel32


def test_partial_files_and_save_folders_are_hidden_on_windows(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, windows: FakeKernel32
) -> None:
    """A dot does not hide a name on Windows: the long save's folder and the partial
    file beside the output get the hidden attribute (no more .part of hundreds of MB in
    Explorer and in OneDrive's views)."""
    out = tmp_path / "book.wav"
    text = "一句要保存的话。" * 200  # resumable: a save folder
    assert main([text, "--out", str(out)]) == 0
    hidden = {Path(p).name for p, attributes in windows.hidden if attributes == 0x2}
    assert ".book.wav.kuhu-save" in hidden
    assert any(n.startswith(".book.wav.") and n.endswith(".part") for n in hidden), hidden
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)


@pytest.mark.parametrize(
    ("pid", "age", "removed"),
    [
        (424242, 60, True),  # its process is gone: removed at once, not after a day
        (4242, 60, False),  # still running and writing
        (4242, 2 * 3600, True),  # a number reused by another program: stale after an hour
    ],
)
def test_a_partial_file_left_by_a_dead_process_is_removed_at_once_on_windows(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    windows: FakeKernel32,
    pid: int,
    age: float,
    removed: bool,
) -> None:
    windows.running.add(4242)
    orphan = tmp_path / f".talk.wav.{pid}-abcdefgh.part"
    orphan.write_bytes(b"\0" * 1000)
    os.utime(orphan, (time.time() - age, time.time() - age))
    assert main(["你好。", "--out", str(tmp_path / "talk.wav")]) == 0
    assert orphan.exists() is not removed
