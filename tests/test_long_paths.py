"""Windows' path limits, simulated (kuhu_driver/_files.py, pipeline/_resume.folder_for):
an audit hook refuses, as Windows does, an absolute path longer than 259 characters for
a file and 247 for a folder. Wherever the output fits, our temporary file, the probe of
the destination and a long save's folder fit too."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import expected_pcm

from kuhu_driver import _private
from kuhu_driver.audio import parse_wav
from kuhu_driver.cli import main
from kuhu_driver.testing import KuhuEmulator

_enforcing = [False]
refused: list[str] = []


def _too_long(path: Any, limit: int) -> None:
    if isinstance(path, int):
        return
    text = os.fsdecode(path)
    if os.path.isabs(text) and len(text) > limit:
        refused.append(text)
        raise OSError(errno.ENAMETOOLONG, "The filename or extension is too long", text)


def _windows_limits(event: str, args: tuple[Any, ...]) -> None:
    if not _enforcing[0]:
        return
    if event == "open":
        _too_long(args[0], 259)
    elif event == "os.mkdir":
        _too_long(args[0], 247)
    elif event == "os.rename":
        _too_long(args[0], 259)
        _too_long(args[1], 259)


sys.addaudithook(_windows_limits)  # once per process; it acts only inside ``windows_paths``


@pytest.fixture
def windows_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Windows' limits on absolute paths, and folders used by path, as on Windows (on
    POSIX the save's folder is used by descriptor, and its files' names are short). The
    user's cache folder is this test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_private, "_POSIX", False)
    refused.clear()
    _enforcing[0] = True
    yield
    _enforcing[0] = False


def leftovers(tmp_path: Path) -> list[Path]:
    """Files or save folders left in the user's cache folder (this test's own)."""
    cache = tmp_path / "cache"
    return [p for p in cache.rglob("*") if p.is_file() or p.name.endswith(".kuhu-save")]


def deep_folder(base: Path, length: int) -> Path:
    """A folder whose absolute path is ``length`` characters long."""
    folder = base.absolute()
    while len(str(folder)) < length:
        step = min(100, length - len(str(folder)) - 1)
        folder = folder / ("d" * max(1, step))
    assert len(str(folder)) == length, folder
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize(
    ("folder_length", "name"),
    [(247, "chapter.wav"), (240, "talk.wav"), (200, "talk.wav")],
    ids=["259", "249", "209"],
)
def test_a_short_save_and_its_subtitles_fit_wherever_the_output_fits(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, windows_paths: None, folder_length: int, name: str
) -> None:
    out = deep_folder(tmp_path, folder_length) / name
    srt = out.with_suffix(".srt")
    assert len(str(out)) <= 259
    text = "第一句话。第二句话。"
    assert main([text, "--out", str(out), "--subtitles", str(srt)]) == 0, refused
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    assert "第二句话。" in srt.read_text(encoding="utf-8")
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([name, srt.name])
    assert refused == []


@pytest.mark.parametrize(("folder_length", "name"), [(247, "chapter.wav"), (200, "talk.wav")])
def test_a_long_save_keeps_its_pieces_where_they_fit(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, windows_paths: None, folder_length: int, name: str
) -> None:
    """Beside the output while its folder and files fit there; else in the user's cache
    folder (another file system, possibly: the output is copied over), and nothing is
    left behind in either place."""
    out = deep_folder(tmp_path, folder_length) / name
    text = "一句要保存的话。" * 200  # resumable: a save folder
    assert main([text, "--out", str(out)]) == 0, refused
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    assert [p.name for p in out.parent.iterdir()] == [name]
    assert leftovers(tmp_path) == []
    # Near the limit the pieces were kept in the cache folder, else beside the output.
    assert (tmp_path / "cache" / "kuhu_driver" / "saves").is_dir() == (folder_length == 247)
    assert refused == []


def test_a_long_save_kept_on_another_file_system_is_copied_into_place(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    windows_paths: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The user's cache folder on another drive than the output: a rename between them
    fails (EXDEV, Windows' ERROR_NOT_SAME_DEVICE), so the finished file is copied."""
    real = os.replace
    crossed: list[str] = []

    def replace(src: Any, dst: Any, **dir_fds: Any) -> None:
        if "kuhu-save" in os.fsdecode(src) and "kuhu-save" not in os.fsdecode(dst):
            crossed.append(os.fsdecode(src))
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", replace)
    out = deep_folder(tmp_path, 247) / "chapter.wav"
    text = "一句要保存的话。" * 200
    assert main([text, "--out", str(out)]) == 0, refused
    assert crossed, "the save's folder was not in the cache folder"
    assert parse_wav(out.read_bytes()).data == expected_pcm(kuhu_emulator, text)
    assert [p.name for p in out.parent.iterdir()] == ["chapter.wav"]
    assert leftovers(tmp_path) == []  # the folder went once the copy was in place
