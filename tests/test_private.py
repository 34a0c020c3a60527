"""Other users on the same machine (kuhu_driver/_private.py and the folders that use it):
each attack a second local user could mount is planted here for real. The tests run as
root, so the "other user" is ``nobody`` (files chowned to it, or a child that drops to
it with ``os.setuid``), and the victim is this process."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import numbered

import kuhu_driver
from kuhu_driver._private import PrivateDir, UnsafeFolderError
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.testing import KuhuEmulator

if sys.platform == "win32":  # Windows has neither these owners nor modes
    pytest.skip("POSIX users and modes", allow_module_level=True)

NOBODY = 65534
LONG = numbered("这段话要保存到文件里，它足够长，会分成好几段。", 60)  # a resumable save


@pytest.fixture(autouse=True)
def _as_root() -> None:
    if sys.platform == "win32" or os.getuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("these tests plant another user's files: CI runs them as root")
        pytest.skip("needs root, to make files another user's")


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[Path]:
    """A folder of the victim's with a file in it; asserted untouched at the end."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "thesis.txt").write_text("years of work")
    yield docs
    assert sorted(p.name for p in docs.iterdir()) == ["thesis.txt"]
    assert (docs / "thesis.txt").read_text() == "years of work"


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A folder every user may write (sticky, as /tmp)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def plant_link(link: Path, target: Path) -> None:
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)


def test_a_resume_folder_planted_as_a_link_is_refused_and_nothing_is_touched(
    kuhu_emulator: KuhuEmulator, victim: Path, shared: Path
) -> None:
    plant_link(shared / ".out.wav.kuhu-save", victim)
    with pytest.raises(InvalidInputError, match="resume folder"):
        kuhu_driver.save(LONG, shared / "out.wav")
    assert not (shared / "out.wav").exists()
    assert kuhu_emulator.requests == []  # refused before anything was billed


def test_another_users_resume_folder_full_of_links_is_refused(
    kuhu_emulator: KuhuEmulator, victim: Path, shared: Path
) -> None:
    folder = shared / ".out.wav.kuhu-save"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    for name in ("lock", "job", "out.part", "state.json", "p00000"):
        plant_link(folder / name, victim / "thesis.txt")
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(InvalidInputError, match="another user"):
        kuhu_driver.save(LONG, shared / "out.wav")


def test_our_own_resume_folder_that_others_may_write_is_refused(
    kuhu_emulator: KuhuEmulator, victim: Path, shared: Path
) -> None:
    folder = shared / ".out.wav.kuhu-save"
    folder.mkdir()
    folder.chmod(0o777)  # anyone could have planted links in it
    plant_link(folder / "out.part", victim / "thesis.txt")
    with pytest.raises(InvalidInputError, match="others may write"):
        kuhu_driver.save(LONG, shared / "out.wav")


def test_a_save_in_a_shared_folder_makes_a_private_resume_folder_and_spares_others(
    kuhu_emulator: KuhuEmulator, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    # Another user's stale save folder beside ours is not ours to prune.
    theirs = shared / ".theirs.wav.kuhu-save"
    theirs.mkdir()
    (theirs / "p00000").write_bytes(b"their piece")
    os.chown(theirs / "p00000", NOBODY, NOBODY)
    os.chown(theirs, NOBODY, NOBODY)
    old = time.time() - 30 * 86400
    os.utime(theirs / "p00000", (old, old))
    seen: list[int] = []
    real = PrivateDir.__init__

    def spy(self: PrivateDir, path: Path, *, create: bool = True) -> None:
        real(self, path, create=create)
        seen.append(stat.S_IMODE(path.lstat().st_mode))

    monkeypatch.setattr(PrivateDir, "__init__", spy)
    kuhu_driver.save(LONG, shared / "out.wav")
    assert (shared / "out.wav").stat().st_size > 44
    assert seen == [0o700]  # created private, whatever the umask
    assert not (shared / ".out.wav.kuhu-save").exists()  # removed once done
    assert (theirs / "p00000").read_bytes() == b"their piece"


def test_a_private_folder_reads_only_regular_files_and_never_past_a_bound(
    tmp_path: Path,
) -> None:
    with PrivateDir(tmp_path / "mine") as d:
        os.mkfifo(tmp_path / "mine" / "fifo")
        (tmp_path / "mine" / "zero").symlink_to("/dev/zero")
        (tmp_path / "mine" / "big").write_bytes(b"x" * 100)
        with pytest.raises(OSError, match="not a regular file"):
            d.read("fifo", 10)  # and it did not hang
        with pytest.raises(OSError):
            d.read("zero", 10)  # a link is not followed
        with pytest.raises(ValueError, match="larger than"):
            d.read("big", 10)
        assert d.read("big", 100) == b"x" * 100
        with pytest.raises(ValueError):
            d.open("../escape", os.O_RDONLY)
    with pytest.raises(UnsafeFolderError):
        PrivateDir(tmp_path / "mine" / "zero", create=False)


def test_the_local_voice_helper_never_runs_code_from_the_callers_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A program run inside a cloned repository that holds a ``kuhu_driver/`` package:
    the helper (Windows' and macOS' local voice; pyttsx3's espeak driver stands in)
    runs ours, not that one."""
    from kuhu_driver.local import LocalVoice

    repo = tmp_path / "cloned"
    (repo / "kuhu_driver" / "local").mkdir(parents=True)
    marker = tmp_path / "ran-their-code"
    for init in (
        repo / "kuhu_driver" / "__init__.py",
        repo / "kuhu_driver" / "local" / "__init__.py",
    ):
        init.write_text(f"open({str(marker)!r}, 'w').close()\n")
    (repo / "kuhu_driver" / "local" / "_helper.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("KUHU_LOCAL_DRIVER", "espeak")
    with LocalVoice() as voice:
        pcm, rate = voice.synthesize("hello")
    assert len(pcm) > rate  # spoken, by our helper
    assert not marker.exists()


def test_the_local_voice_never_puts_the_text_on_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every user can read every process's command line: eSpeak NG gets the text on
    its standard input. A wrapper on PATH records what eSpeak NG was started with."""
    import shutil

    from kuhu_driver.local import LocalVoice

    real = shutil.which("espeak-ng")
    assert real is not None, "./dev.sh test installs espeak-ng"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    argv_log = tmp_path / "argv"
    wrapper = bin_dir / "espeak-ng"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {argv_log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    secret = "My bank PIN is 4921"
    with LocalVoice() as voice:
        pcm, rate = voice.synthesize(secret)
    assert len(pcm) > rate  # spoken whole: a second or more
    assert "4921" not in argv_log.read_text() and "PIN" not in argv_log.read_text()


def test_subtitles_never_follow_a_link_planted_at_a_temporary_name(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, victim: Path, shared: Path
) -> None:
    """The subtitles' temporary file had a name anyone could predict (it held the
    process id): a link planted there made the save overwrite the victim's file."""
    for pid in {os.getpid(), os.getppid()}:
        plant_link(shared / f".talk.srt.{pid}.part", victim / "thesis.txt")
    kuhu_driver.save(
        "字幕要写到共享的文件夹里。", shared / "talk.wav", subtitles=shared / "talk.srt"
    )
    assert (shared / "talk.srt").read_text(encoding="utf-8").startswith("1\n")


def test_a_temporary_file_swapped_for_a_link_never_lends_its_mode_to_the_target(
    tmp_path: Path, victim: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of finding 5, won by the attacker every time: between creating the
    ``.part`` and setting its mode, it is replaced by a link to a private file. The mode
    is set on the descriptor, so the private file stays private; and a failure to set
    it leaves no ``.part`` and no open descriptor behind."""
    import tempfile

    from kuhu_driver import _files

    private = victim / "thesis.txt"
    private.chmod(0o600)
    real = tempfile.mkstemp

    def raced(*args: object, **kw: object) -> tuple[int, str]:
        fd, name = real(*args, **kw)  # type: ignore[call-overload, unused-ignore]
        os.unlink(name)
        os.symlink(private, name)  # the attacker's link, under our name
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", raced)
    os.umask(0o022)
    fd, path = _files.temp_beside(tmp_path / "out.wav")
    os.close(fd)
    path.unlink()
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    monkeypatch.setattr(tempfile, "mkstemp", real)

    def refused(fd: int, mode: int) -> None:
        raise PermissionError("no")

    monkeypatch.setattr(os, "fchmod", refused)
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(PermissionError):
        _files.temp_beside(tmp_path / "out.wav")
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".part"] == []
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.fixture
def cache_on(kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUHU_CACHE", "on")  # after the emulator's fixture turned it off


def cache_entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and len(p.name) == 64]


def test_a_cache_folder_another_user_made_first_is_never_read_or_written(
    cache_on: None, kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poisoning: another user made the cache folder first and planted a valid entry
    (its own audio under the key of a text we will say). We fetch from the cloud."""
    from kuhu_driver.pipeline._store import decode, header

    mine = tmp_path / "mine"
    monkeypatch.setenv("KUHU_CACHE_DIR", str(mine))
    text = "今天的会议改到中午。"
    real = b"".join(kuhu_driver.stream(text))
    (entry,) = cache_entries(mine)
    audio = decode(entry.read_bytes())
    assert audio is not None
    planted = type(audio)(
        data=b"\x01\x02" * 5000, format=audio.format, sample_rate=audio.sample_rate
    )
    theirs = tmp_path / "theirs"
    (mine / "kuhu-audio-v2").rename(theirs)
    entry = cache_entries(theirs)[0]
    entry.write_bytes(header(planted) + planted.data)
    for p in [theirs, *theirs.rglob("*")]:
        os.chown(p, NOBODY, NOBODY)
    theirs.chmod(0o777)
    shared = tmp_path / "shared"
    shared.mkdir()
    theirs.rename(shared / "kuhu-audio-v2")
    monkeypatch.setenv("KUHU_CACHE_DIR", str(shared))
    asked = len(kuhu_emulator.requests)
    assert b"".join(kuhu_driver.stream(text)) == real  # the cloud's, not the planted
    assert len(kuhu_emulator.requests) == asked + 1
    assert all(p.stat().st_uid == NOBODY for p in (shared / "kuhu-audio-v2").rglob("*"))


def test_links_fifos_and_endless_files_in_the_cache_are_never_followed(
    cache_on: None, kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("KUHU_CACHE_DIR", str(cache))
    texts = ["第一句。", "第二句。"]
    expected = [b"".join(kuhu_driver.stream(t)) for t in texts]
    first, second = sorted(cache_entries(cache), key=lambda p: p.stat().st_mtime)
    first.unlink()
    first.symlink_to("/dev/zero")  # read whole, it would fill the memory
    second.unlink()
    os.mkfifo(second)  # read, it would hang
    tag = cache / "kuhu-audio-v2" / "CACHEDIR.TAG"
    tag.unlink()
    aliases = tmp_path / "home" / ".bash_aliases"
    aliases.parent.mkdir()
    tag.symlink_to(aliases)  # dangling: writing the tag would create the victim's file
    assert [b"".join(kuhu_driver.stream(t)) for t in texts] == expected  # fetched again
    assert not aliases.exists()


def test_every_cache_folder_we_make_is_ours_alone(
    cache_on: None, kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What was spoken is nobody else's business: a guessed text's key must not be
    found by listing our folders."""
    cache = tmp_path / "xdg" / "kuhu_driver"  # parents made by us too
    monkeypatch.setenv("KUHU_CACHE_DIR", str(cache))
    os.umask(0o022)
    b"".join(kuhu_driver.stream("秘密会议在中午。"))
    (entry,) = cache_entries(cache)
    for folder in (tmp_path / "xdg", cache, cache / "kuhu-audio-v2", entry.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600


@pytest.mark.parametrize("fault", ["json403", "reset", "500"])
def test_the_key_is_not_in_the_locals_an_error_reporter_records(
    kuhu_emulator: KuhuEmulator, fault: str
) -> None:
    """Sentry and other reporters record every frame's locals (``capture_locals``): the
    form, which holds the key, shows only its size there."""
    import traceback

    from kuhu_driver.api import KuhuClient
    from kuhu_driver.errors import KuhuError

    kuhu_emulator.set_fault_plan(lambda req: fault)
    client = KuhuClient(api_url=kuhu_emulator.url, api_key=kuhu_emulator.api_key)
    with client, pytest.raises(KuhuError) as info:
        client.synthesize("我的密码是四九二一。")
    report = "".join(
        traceback.TracebackException.from_exception(info.value, capture_locals=True).format()
    )
    assert "    req = " in report  # the locals were recorded (the form is in none of them)
    assert kuhu_emulator.api_key not in report


def test_input_without_limits_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """kuhu-say reads at most 16 bytes per billed character allowed, never a device, and
    prints paths and settings so that a terminal obeys none of their characters."""
    import io
    import time

    from kuhu_driver.cli import main

    began = time.monotonic()
    assert main(["--dry-run", "-f", "/dev/zero"]) == 1
    assert "a device" in capsys.readouterr().err
    monkeypatch.setenv("KUHU_MAX_BILLED", "1000")
    big = tmp_path / "big.txt"
    big.write_text("字" * 6000, encoding="utf-8")  # 18,000 bytes: over 16 x 1000
    assert main(["--dry-run", "-f", str(big)]) == 1
    assert "over 16,000 bytes" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 20_000)))
    assert main(["--dry-run", "-f", "-"]) == 1
    assert "over 16,000 bytes" in capsys.readouterr().err
    assert time.monotonic() - began < 5
    odd = tmp_path / "a\nb\x1b[31mred"
    assert main(["--dry-run", "-f", str(odd)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1 and "\\x1b[31mred" in err
    monkeypatch.setenv("KUHU_FALLBACK", "\x1b]0;owned\x07" + "x" * 100_000)
    monkeypatch.delenv("KUHU_MAX_BILLED")
    assert main(["你好"]) == 1
    err = capsys.readouterr().err
    assert len(err) < 400 and "\x1b" not in err and "100010 characters" in err


def test_a_save_refused_for_its_cost_leaves_no_resume_folder(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_MAX_BILLED", "2500")
    with pytest.raises(InvalidInputError, match="KUHU_MAX_BILLED"):
        kuhu_driver.save(LONG, tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []
    assert kuhu_emulator.requests == []


def test_on_windows_each_user_keeps_the_shared_rate_limit_in_its_own_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: Windows has no owner to check, and every user's %TEMP% folder was
    named alike, so another user could book our slots. Each profile holds its own."""
    from kuhu_driver.api import _ratelimit

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("TEMP", str(tmp_path / "shared-temp"))
    folders = set()
    for user in ("alice", "mallory"):
        monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / user / "AppData" / "Local"))
        folders.add(_ratelimit.runtime_dir())
    assert folders == {
        tmp_path / user / "AppData" / "Local" / "kuhu_driver" / "State"
        for user in ("alice", "mallory")
    }


def test_a_resumable_save_in_a_private_folder_still_follows_the_umask(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    """The pieces are kept in a 0700 folder, but the output made there is the user's
    file like any other: its mode follows the umask (it came out 0600 for a while)."""
    old = os.umask(0o022)
    try:
        kuhu_driver.save(LONG, tmp_path / "out.wav")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.wav").stat().st_mode) == 0o644


def test_a_cache_in_a_folder_others_may_rename_in_is_not_used(
    cache_on: None,
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Entries are reached by path: in a folder another user may write (not sticky),
    they could rename our cache folder away after it was checked and put theirs in its
    place. Such a place is refused at once; a sticky one (as /tmp) is fine."""
    import logging

    open_to_all = tmp_path / "open"
    open_to_all.mkdir()
    open_to_all.chmod(0o777)
    os.chown(open_to_all, NOBODY, NOBODY)
    monkeypatch.setenv("KUHU_CACHE_DIR", str(open_to_all / "cache"))
    with caplog.at_level(logging.WARNING, logger="kuhu_driver"):
        first = b"".join(kuhu_driver.stream("开放的文件夹。"))
        assert b"".join(kuhu_driver.stream("开放的文件夹。")) == first
    assert len(kuhu_emulator.requests) == 2  # no entry was kept, or read
    assert cache_entries(open_to_all) == []
    assert any("others may write" in r.getMessage() for r in caplog.records)
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    monkeypatch.setenv("KUHU_CACHE_DIR", str(sticky / "cache"))
    b"".join(kuhu_driver.stream("粘滞位。"))
    assert len(cache_entries(sticky)) == 1


def test_a_folder_writable_only_by_our_own_group_is_ours(
    cache_on: None, kuhu_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where each user has a group of their own and a umask of 002, the user's folders
    are group-writable (0775) by that user alone: used. Writable by another group: not."""
    for name, gid, kept in (("own", os.getgid(), 1), ("theirs", NOBODY, 0)):
        home = tmp_path / name
        home.mkdir()
        home.chmod(0o775)
        os.chown(home, os.getuid(), gid)
        monkeypatch.setenv("KUHU_CACHE_DIR", str(home / "cache"))
        b"".join(kuhu_driver.stream(f"组{name}。"))
        assert len(cache_entries(home)) == kept, name
