"""kuhu-say, in-process, against the emulator and the capture rig."""

from __future__ import annotations

import io
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import XIAOWAN, espeak_seconds, expected_pcm

from kuhu_driver.audio import parse_wav
from kuhu_driver.cli import main
from kuhu_driver.testing import KuhuEmulator, vendor_billed

DEFAULT_VOICE_ID = "v3-voice-2ecfccfc72654c0a86112d0fe89a6864"


def test_speaks_text(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    assert main(["你好，世界"]) == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "你好，世界")


def test_api_units_and_voice_by_name(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    args = ["--voice", "小婉", "--rate", "1.5", "--volume", "80", "--pitch", "0.8"]
    assert main([*args, "--sample-rate", "16000", "好"]) == 0
    (req,) = kuhu_emulator.requests
    assert req.params == {
        "text": "好",
        "voice": XIAOWAN,
        "format": "pcm",
        "sample_rate": "16000",
        "volume": "80",
        "rate": "1.5",
        "pitch": "0.8",
    }
    expected = expected_pcm(
        kuhu_emulator, "好", voice=XIAOWAN, rate=1.5, volume=80, pitch=0.8, sample_rate=16000
    )
    assert capture.read() == expected


def test_reads_a_file_and_stdin(
    kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "in.txt"
    f.write_text("文件里的字", encoding="utf-8")
    assert main(["-f", str(f)]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("标准输入"))
    assert main(["-f", "-"]) == 0
    assert capture.read() == expected_pcm(kuhu_emulator, "文件里的字") + expected_pcm(
        kuhu_emulator, "标准输入"
    )


@pytest.mark.parametrize("ext", [".wav", ".mp3", ".pcm"])
def test_out_writes_the_format_of_the_extension(
    kuhu_emulator: KuhuEmulator, capture: Any, tmp_path: Path, ext: str
) -> None:
    out = tmp_path / f"a{ext}"
    assert main(["--out", str(out), "保存"]) == 0
    data = out.read_bytes()
    if ext == ".wav":
        assert parse_wav(data).data == expected_pcm(kuhu_emulator, "保存")
    elif ext == ".mp3":
        assert data.startswith(b"ID3")
    else:
        assert data == expected_pcm(kuhu_emulator, "保存")
    assert capture.read() == b""


def test_list_voices_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-voices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "name", "scenes", "languages", "gender"]
    assert len(lines) == 35
    assert any("小婉" in line and "口播、数字人" in line for line in lines)
    assert main(["--list-voices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 34
    assert rows[0]["id"].startswith("v3-voice-")
    assert {"id", "name", "scenes", "languages", "gender"} <= set(rows[0])


def test_dry_run_needs_no_key_and_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--dry-run", "你好。" * 1000]) == 0
    out = capsys.readouterr().out
    assert "billed characters: 5000" in out
    assert "requests: 5" in out  # 5 | 600 | 2000 | 2000 | 395 billed
    assert "0.5000 yuan" in out


def test_dry_run_counts_only_what_is_sent_and_shows_the_silence(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--dry-run", '一<break time="700ms"/>二[[slnc 300]]三']) == 0
    out = capsys.readouterr().out
    assert "billed characters: 6" in out and "requests: 3" in out
    assert "silence added: 1.000 s (made here, not sent or billed)" in out
    assert main(["--dry-run", "--markup", "off", '一<break time="700ms"/>二']) == 0
    out = capsys.readouterr().out
    assert "billed characters: 25" in out and "silence added" not in out
    assert main(["--dry-run", '一<break time="x"/>二']) == 1
    assert "malformed markup at character 2" in capsys.readouterr().err


def test_emulator_mode_needs_no_key(capture: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulator", "试一试"]) == 0
    assert "test signal" in capsys.readouterr().err
    with KuhuEmulator() as emu:  # the emulator's signal for the text, as it was heard
        assert capture.read() == expected_pcm(emu, "试一试")


def test_batch_is_parallel_resumable_and_numbered(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("第一\n\n第三\n第四\n", encoding="utf-8")
    out = tmp_path / "out"
    (out).mkdir()
    kuhu_emulator.latency = 0.3
    assert main(["--batch", str(lines), "--out-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0001.wav", "0003.wav", "0004.wav"]
    assert parse_wav((out / "0003.wav").read_bytes()).data == expected_pcm(kuhu_emulator, "第三")
    starts = sorted(r.arrived for r in kuhu_emulator.requests)
    assert starts[-1] - starts[0] < 0.5  # in parallel, not one after another (0.9 s)
    (out / "0003.wav").unlink()
    kuhu_emulator.reset_log()
    assert main(["--batch", str(lines), "--out-dir", str(out)]) == 0
    assert [r.text for r in kuhu_emulator.requests] == ["第三"]
    assert "skipped 2" in capsys.readouterr().err


def test_batch_progress_on_a_terminal(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("一\n二\n三\n", encoding="utf-8")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["--batch", str(lines), "--out-dir", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "batch [" in err and "3/3" in err


def test_batch_failure_is_reported_and_nonzero(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = tmp_path / "lines.txt"
    lines.write_text("好\n", encoding="utf-8")
    kuhu_emulator.fail_next("json403")
    assert main(["--batch", str(lines), "--out-dir", str(tmp_path / "o")]) == 1
    assert "403" in capsys.readouterr().err
    assert list((tmp_path / "o").iterdir()) == []


def test_progress_on_a_terminal(
    kuhu_emulator: KuhuEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["--out", str(tmp_path / "long.wav"), "第一句。" + "长长的文字，" * 400]) == 0
    err = capsys.readouterr().err
    assert "writing [" in err and "4/4" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        ([], "give the text"),
        (["--rate", "3", "x"], "--rate"),
        (["--volume", "101", "x"], "--volume"),
        (["--voice", "没有", "x"], "unknown voice"),
        (["--out", "a.ogg", "x"], ".wav"),
        (["--batch", "f.txt"], "--out-dir"),
        (["   "], "empty"),
    ],
)
def test_usage_errors_exit_2(
    kuhu_emulator: KuhuEmulator, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert needle in err
    assert "Traceback" not in err
    assert kuhu_emulator.requests == []


def test_unreadable_file_is_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-f", "/nonexistent/file"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read" in err[0]


def test_api_errors_are_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, capture: Any
) -> None:
    """Speaking opens the device before anything is sent: the capture rig is that
    device here (without one, the error would be the device's, not the API's)."""
    with KuhuEmulator() as emu:
        monkeypatch.setenv("KUHU_API_URL", emu.url)
        monkeypatch.setenv("KUHU_API_KEY", "CANARY-KEY-7f3a")
        assert main(["--no-fallback", "x"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("kuhu-say: error: 403: the key is wrong")
    assert "CANARY" not in err[0]


def test_missing_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--no-fallback", "x"]) == 1
    assert "KUHU_API_KEY" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "x.wav"), "x"]) == 1  # files never fall back
    assert "KUHU_API_KEY" in capsys.readouterr().err


def test_the_local_voice_speaks_when_the_cloud_refuses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, capture: Any
) -> None:
    monkeypatch.delenv("KUHU_FALLBACK")  # the default: on
    with KuhuEmulator() as emu:
        monkeypatch.setenv("KUHU_API_URL", emu.url)
        monkeypatch.setenv("KUHU_API_KEY", "CANARY-KEY-7f3a")
        assert main(["本地的声音。"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("kuhu-say: note: the cloud voice could not")
    assert "403" in err[0] and "CANARY" not in err[0]
    heard = len(capture.read()) / 2 / 22050  # the local voice, as long as eSpeak NG's own
    assert abs(heard - espeak_seconds(["本地的声音。"])) < 0.1 * heard


def test_python_dash_m_and_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0
    assert "0.5–2" in proc.stdout and "0–100" in proc.stdout and "API's" in proc.stdout


def test_verbose_turns_on_logging(kuhu_emulator: KuhuEmulator, capture: Any) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "kuhu_driver", "--verbose", "日志"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG kuhu_driver.api._client: POST" in proc.stderr
    assert kuhu_emulator.api_key not in proc.stderr


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_bad_destination_fails_before_anything_is_billed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str
) -> None:
    out = tmp_path / "no" / "such" / "x.wav"
    if where == "a folder":
        out = tmp_path / "folder.wav"
        out.mkdir()
    with KuhuEmulator() as emu:
        code = main(["--emulator", "--out", str(out), "很长的一段话。" * 100])
        code_real = main(["--out", str(out), "x"])  # no key needed to see the folder is bad
    assert code == 1 and code_real == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("kuhu-say: error: cannot write") and "Traceback" not in err
    assert emu.requests == []


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        assert main(["--emulator", "--out", str(tmp_path / "a.wav"), "你好"]) == 0
        os.umask(0o002)
        assert main(["--emulator", "--out", str(tmp_path / "b.wav"), "你好"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "a.wav").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.wav").stat().st_mode & 0o777 == 0o664


def test_a_killed_save_leaves_no_partial_file_after_the_next_run(tmp_path: Path) -> None:
    # Before: kill -9 during --out left a hidden .NAME.part file behind for good.
    import time

    out = tmp_path / "book.wav"
    text = "很长的一本书。" * 60
    with KuhuEmulator(seconds_per_billed_char=0.002) as emu:
        env = {
            **emu.env(),
            "PATH": "/usr/bin:/bin",
            "KUHU_CACHE": "off",
            "KUHU_FALLBACK": "off",
        }
        argv = [sys.executable, "-m", "kuhu_driver", text, "--out", str(out)]
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while not list(tmp_path.glob(".book.wav.*.part")) and time.monotonic() < deadline:
                time.sleep(0.01)
            while not any(r.outcome == "ok" for r in emu.requests):
                assert time.monotonic() < deadline, "no piece arrived within 20 s"
                time.sleep(0.01)  # a piece has arrived: the save is under way
            proc.kill()  # SIGKILL on POSIX: no handler, no clean-up
        finally:
            proc.wait(10)
            assert proc.stderr is not None
            proc.stderr.close()
        assert len(list(tmp_path.glob(".book.wav.*.part"))) == 1  # what the kill left
        assert not out.exists()
        again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.wav"]
    assert parse_wav(out.read_bytes()).data == expected_pcm(emu, text)


def test_the_cost_line_counts_pieces_shared_with_one_in_flight(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Sentence after sentence alike: the pieces past the first two are the same text,
    # fetched side by side, so each is bought once and the rest wait for it.
    from kuhu_driver.pipeline import speech_pieces

    kuhu_emulator.latency = 0.3
    text = "第一句。" + "一模一样的句子，" * 1000
    pieces = [text[a:b] for a, b in speech_pieces(text)]
    assert main(["--out", str(tmp_path / "same.wav"), text]) == 0
    asked = [r.text for r in kuhu_emulator.requests]
    assert sorted(set(asked)) == sorted(set(pieces))  # every distinct piece was bought
    bought = kuhu_emulator.billed_total()  # the vendor's rule, not ours
    err = capsys.readouterr().err
    assert f"billed {bought} characters" in err
    assert len(asked) < len(pieces)  # identical pieces in flight at once were bought once
    shared = sum(vendor_billed(p) for p in pieces) - bought
    assert f"{shared} shared with an identical piece in flight" in err


@pytest.mark.parametrize("ext", [".srt", ".vtt"])
def test_subtitles_with_out_are_timed_to_the_written_audio(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, ext: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers import cue_texts, cue_times

    from kuhu_driver.pipeline import cue_layout

    text = "大家好。今天我们来聊一聊，怎样用几行代码给视频配上旁白和字幕，一行放不下就分成两行。"
    out, sub = tmp_path / "talk.wav", tmp_path / f"talk{ext}"
    assert main(["--out", str(out), "--subtitles", str(sub), text]) == 0
    assert f"wrote {sub}" in capsys.readouterr().err
    cues = cue_layout(text)
    pieces = [kuhu_emulator.render(text[c.start : c.end], voice=DEFAULT_VOICE_ID) for c in cues]
    assert parse_wav(out.read_bytes()).data == b"".join(pieces)
    # Worked out here from the served pieces: cue i spans piece i of the file, to the
    # millisecond the format writes.
    bounds = [0, *itertools.accumulate(len(p) // 2 for p in pieces)]
    expected = [(bounds[i] / 22050, bounds[i + 1] / 22050) for i in range(len(pieces))]
    written = sub.read_text(encoding="utf-8")
    got = cue_times(written)
    assert len(got) == len(expected)
    for (a, b), (x, y) in zip(got, expected, strict=True):
        assert abs(a - x) <= 0.0005 and abs(b - y) <= 0.0005, (got, expected)
    assert cue_texts(written) == [text[c.start : c.end] for c in cues]
    assert len(kuhu_emulator.requests) == len(cues) == 3


def test_subtitles_mistakes_are_refused_before_anything_is_billed(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    for argv in (
        ["--subtitles", str(tmp_path / "a.srt"), "你好"],  # no --out
        ["--out", str(tmp_path / "a.wav"), "--subtitles", str(tmp_path / "a.txt"), "你好"],
        ["--out", str(tmp_path / "a.wav"), "--subtitles", str(tmp_path / "no/a.srt"), "你好"],
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage error
            code = exc.code  # type: ignore[assignment]
        assert code in (1, 2), argv
    assert kuhu_emulator.requests == []
    assert list(tmp_path.iterdir()) == []
