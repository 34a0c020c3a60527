"""``stream()`` and ``save()``: PCM as it arrives, and files with exact subtitles
(kuhu_driver/pipeline/_stream.py, _cues.py), against the emulator."""

from __future__ import annotations

import itertools
import threading
import time
import wave
from pathlib import Path

import pytest
from helpers import cue_times, expected_pcm, fetches_settled, kuhu_engine, numbered, wait_until

import kuhu_driver
from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.audio import mp3_frames, parse_wav
from kuhu_driver.errors import InvalidInputError
from kuhu_driver.pipeline import cue_layout, speech_pieces
from kuhu_driver.testing import KuhuEmulator

TEXT = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 12)


def test_stream_yields_exactly_the_served_pcm_and_what_a_pcm_save_writes(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    chunks = list(kuhu_driver.stream(TEXT, sample_rate=16000))
    assert len(chunks) == len(speech_pieces(TEXT)) > 1  # a chunk per piece, as it came
    assert b"".join(chunks) == expected_pcm(kuhu_emulator, TEXT, sample_rate=16000)
    with kuhu_engine() as engine:
        engine.setProperty("sample_rate", 16000)
        engine.save_to_file(TEXT, str(tmp_path / "x.pcm"))
        engine.runAndWait()
    assert (tmp_path / "x.pcm").read_bytes() == b"".join(chunks)


def test_stream_takes_the_properties_in_pyttsx3_units(kuhu_emulator: KuhuEmulator) -> None:
    got = b"".join(kuhu_driver.stream("你好。", voice="小婉", rate=300, volume=0.2, pitch=1.5))
    (req,) = kuhu_emulator.requests
    assert (req.params["rate"], req.params["volume"], req.params["pitch"]) == ("1.5", "20", "1.5")
    assert req.params["voice"] != DEFAULT_VOICE.id
    assert got == expected_pcm(
        kuhu_emulator, "你好。", voice=req.params["voice"], volume=20, rate=1.5, pitch=1.5
    )


def test_closing_the_stream_early_stops_fetching(kuhu_emulator: KuhuEmulator) -> None:
    # The first piece comes back at once, while the next ones wait for their rate-limit
    # slots (54 ms apart): closing then must keep every one of them from being sent.
    text = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求。", 200)
    it = kuhu_driver.stream(text)
    first = next(it)
    assert first == expected_pcm(kuhu_emulator, "第一句很短。")
    it.close()
    closed = time.monotonic()
    fetches_settled()  # what was under way at the close has ended: nothing new begins
    # What arrives after close was sent before it, on its way over loopback (ms).
    late = [r for r in kuhu_emulator.requests if r.arrived > closed + 0.02]
    assert late == []
    assert len(kuhu_emulator.requests) <= 2


def test_empty_text_is_a_clear_error_before_any_request(kuhu_emulator: KuhuEmulator) -> None:
    with pytest.raises(InvalidInputError):
        list(kuhu_driver.stream("   "))
    assert kuhu_emulator.requests == []


@pytest.mark.parametrize("fmt", [".srt", ".vtt"])
def test_subtitles_begin_and_end_at_the_piece_boundaries_of_the_wav(
    kuhu_emulator: KuhuEmulator, tmp_path: Path, fmt: str
) -> None:
    text = "第一句很短。" + numbered("后面的内容比较长，需要分成好几段来请求，读起来要一会儿。", 6)
    out, sub = tmp_path / "talk.wav", tmp_path / f"talk{fmt}"
    kuhu_driver.save(text, out, subtitles=sub)
    cues = cue_layout(text)
    # One request per cue, its text exactly the cue's.
    assert sorted(r.text for r in kuhu_emulator.requests) == sorted(
        text[c.start : c.end] for c in cues
    )
    written = sub.read_text(encoding="utf-8")
    assert written.startswith("WEBVTT\n") == (fmt == ".vtt")
    times = cue_times(written)
    # Each boundary is where that cue's audio begins and ends in the file, to the ms.
    at = 0
    for (begins, ends), cue in zip(times, cues, strict=True):
        n = len(kuhu_emulator.render(text[cue.start : cue.end], voice=DEFAULT_VOICE.id)) // 2
        assert abs(begins - at / 22050) <= 0.0005 + 1e-9
        at += n
        assert abs(ends - at / 22050) <= 0.0005 + 1e-9
    with wave.open(str(out)) as w:
        assert w.getnframes() == at  # the last cue ends where the audio ends
    for cue in cues:
        assert "\n".join(cue.lines) in written  # the text spoken, line by line
    assert parse_wav(out.read_bytes()).data == b"".join(
        kuhu_emulator.render(text[c.start : c.end], voice=DEFAULT_VOICE.id) for c in cues
    )


def test_mp3_subtitles_follow_the_frames_a_player_plays(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    text = "第一句。第二句比较长一点。第三句。"
    kuhu_driver.save(text, tmp_path / "talk.mp3", subtitles=tmp_path / "talk.srt")
    times = cue_times((tmp_path / "talk.srt").read_text(encoding="utf-8"))
    samples, rate = mp3_frames((tmp_path / "talk.mp3").read_bytes())
    assert len(times) == 3 and rate == 44100
    assert abs(times[-1][1] - samples / rate) <= 0.0005
    assert all(a[1] == b[0] for a, b in itertools.pairwise(times))  # back to back, no drift


def test_a_long_text_s_cues_never_drift_and_resume_gives_the_same_subtitles(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    text = numbered("这是一本很长的书里的一句话，读起来要一会儿。", 120)  # resumable
    kuhu_emulator.audio_seconds_per_billed_char = 0.01
    whole = tmp_path / "whole"
    whole.mkdir()
    kuhu_driver.save(text, whole / "a.wav", subtitles=whole / "a.srt")
    srt = (whole / "a.srt").read_text(encoding="utf-8")
    with wave.open(str(whole / "a.wav")) as w:
        assert abs(cue_times(srt)[-1][1] - w.getnframes() / 22050) <= 0.0005
    # Stopped halfway (from another thread), then run again: the same bytes and cues.
    part = tmp_path / "part"
    part.mkdir()
    from kuhu_driver.pipeline import default_session

    speech = default_session().speech(text)
    kuhu_emulator.latency = 0.05

    def stop_when_half_done() -> None:
        half = len(cue_layout(text)) * 3 // 2
        wait_until(lambda: len(kuhu_emulator.requests) >= half, 30, "half the requests")
        speech.stop()

    stopper = threading.Thread(target=stop_when_half_done)
    stopper.start()
    with pytest.raises(kuhu_driver.StoppedError):
        speech.save(part / "a.wav", part / "a.srt")
    stopper.join()
    assert not (part / "a.wav").exists()
    kuhu_driver.save(text, part / "a.wav", subtitles=part / "a.srt")
    assert (part / "a.wav").read_bytes() == (whole / "a.wav").read_bytes()
    assert (part / "a.srt").read_text(encoding="utf-8") == srt


def test_bad_subtitle_names_cost_nothing(kuhu_emulator: KuhuEmulator, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"\.srt or \.vtt"):
        kuhu_driver.save("你好。", tmp_path / "a.wav", subtitles=tmp_path / "a.txt")
    with pytest.raises(InvalidInputError, match="does not exist"):
        kuhu_driver.save("你好。", tmp_path / "a.wav", subtitles=tmp_path / "no" / "a.srt")
    assert kuhu_emulator.requests == []


def test_a_slow_consumer_has_only_the_next_long_piece_fetched_ahead(
    kuhu_emulator: KuhuEmulator,
) -> None:
    """Read-ahead is bounded in seconds of audio (30 s beyond the next piece), not in
    pieces: with pieces of 2,000 billed characters (minutes of audio, megabytes of PCM
    each), a consumer slower than the fetching has only the next one fetched while it
    holds one, not six. (A consumer faster than the fetching is given more: see
    ``test_a_fast_consumer_has_pieces_fetched_side_by_side``.)"""
    long_text = "这是一段很长的文字，用来测试流的内存。" * 400
    assert len(speech_pieces(long_text)) > 6
    held = []
    for i, _chunk in enumerate(kuhu_driver.stream(long_text)):
        time.sleep(1.5)  # a slow consumer: the fetches ahead have had time to finish
        held.append(sum(1 for r in kuhu_emulator.requests if r.outcome == "ok") - (i + 1))
        if i == 4:
            break
    assert held == [1, 1, 1, 1, 1], held


def test_a_fast_consumer_has_pieces_fetched_side_by_side(kuhu_emulator: KuhuEmulator) -> None:
    """A consumer that waits for pieces that were under way while it used the one
    before is faster than the fetching: more are fetched at once (up to six), not one
    after another. Counted at the server: requests under way at the same moment (one
    at a time, with the next piece fetched during the current one, is at most two)."""
    kuhu_emulator.latency = 0.3  # each piece takes the server 0.3 s
    text = numbered("这一段要尽快读完。", 700)
    assert len(speech_pieces(text)) >= 8
    assert b"".join(kuhu_driver.stream(text)) == expected_pcm(kuhu_emulator, text)
    reqs = kuhu_emulator.requests
    overlapping = max(
        sum(1 for r in reqs if r.arrived <= s.arrived < (r.finished or 0)) for s in reqs
    )
    assert overlapping >= 4, overlapping
