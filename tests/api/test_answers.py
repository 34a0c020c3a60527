"""Answers taken as a real server may send them: WAV or MP3 for PCM, wrong content types,
other sample rates. What is played or saved is exactly the PCM inside, or a clear error."""

from __future__ import annotations

import array
import math
from pathlib import Path
from typing import Any

import httpx
import lameenc
import miniaudio
import pytest
from helpers import expected_pcm, kuhu_engine, resampling_error
from hypothesis import assume, given
from hypothesis import strategies as st
from pyttsx3.engine import Engine
from rig import nonzero

import kuhu_driver  # noqa: F401 - registers the driver
from kuhu_driver.api import DEFAULT_VOICE, KuhuClient
from kuhu_driver.audio import looks_like_mp3, parse_wav
from kuhu_driver.errors import BadResponseError
from kuhu_driver.pipeline import speech_pieces
from kuhu_driver.testing import KuhuEmulator, other_rate


def encode_mp3(pcm: bytes, rate: int) -> bytes:
    """A real MP3 of mono 16-bit ``pcm``, made with LAME."""
    enc = lameenc.Encoder()
    enc.set_bit_rate(64)
    enc.set_in_sample_rate(rate)
    enc.set_channels(1)
    enc.set_quality(2)
    return bytes(enc.encode(pcm) + enc.flush())


def render(emu: KuhuEmulator, text: str, rate: int = 22050) -> bytes:
    return emu.render(text, voice=DEFAULT_VOICE.id, sample_rate=rate)


@pytest.mark.parametrize("form", ["wav", "octet", "mislabelled"])
def test_pcm_in_another_wrapper_or_label_is_taken_exactly(form: str) -> None:
    with KuhuEmulator() as emu, KuhuClient(emu.api_key, api_url=emu.url) as client:
        emu.fail_next(form)
        assert client.synthesize("包装", format="pcm") == render(emu, "包装")
        assert [r.outcome for r in emu.requests] == [f"fault:{form}"]  # bought once


@pytest.mark.parametrize("asked", [16000, 22050, 48000])
def test_a_stereo_wav_at_another_rate_is_converted_to_the_rate_asked(asked: int) -> None:
    with KuhuEmulator() as emu, KuhuClient(emu.api_key, api_url=emu.url) as client:
        emu.fail_next("wav_other_rate")
        got = client.synthesize("换采样率", format="pcm", sample_rate=asked)
    sent_rate = other_rate(asked)
    sent = render(emu, "换采样率", sent_rate)
    # The same sound at the rate asked (so as long in time: it plays at the right
    # speed), checked against a resampling written in the test, not convert_pcm.
    assert resampling_error(got, sent, sent_rate, asked) < 0.1


def test_an_mp3_answer_to_a_pcm_request_is_decoded() -> None:
    with (
        KuhuEmulator(mp3_encoder=encode_mp3) as emu,
        KuhuClient(emu.api_key, api_url=emu.url) as client,
    ):
        emu.fail_next("mp3")
        got = client.synthesize("压缩的声音。", format="pcm")
    original = render(emu, "压缩的声音。")
    mp3 = encode_mp3(original, 22050)
    decoded = miniaudio.decode(
        mp3, output_format=miniaudio.SampleFormat.SIGNED16, nchannels=1, sample_rate=22050
    )
    assert got == decoded.samples.tobytes()
    # And it is the same sound: as long (within LAME's padding) and as loud.
    assert abs(len(got) - len(original)) / 2 / 22050 < 0.1
    assert _rms(got) == pytest.approx(_rms(original), rel=0.1)


def _rms(pcm: bytes) -> float:
    s = array.array("h", pcm)
    return math.sqrt(sum(x * x for x in s) / len(s))


def test_a_broken_mp3_is_a_clear_error() -> None:
    def broken(pcm: bytes, rate: int) -> bytes:
        return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 100

    with (
        KuhuEmulator(mp3_encoder=broken) as emu,
        KuhuClient(emu.api_key, api_url=emu.url) as client,
    ):
        emu.fail_next("mp3")
        with pytest.raises(BadResponseError, match="MP3"):
            client.synthesize("坏的", format="pcm")


@given(st.binary(min_size=2, max_size=4096))
def test_raw_pcm_is_not_mistaken_for_mp3(pcm: bytes) -> None:
    # Sync bits at the start by chance are not enough: chained frames are needed.
    rest = pcm.replace(b"\xff", b"\xfe")  # no second frame header anywhere
    assume(not rest.startswith(b"ID3"))  # an ID3 tag is MP3 by definition
    assert not looks_like_mp3(b"\xff\xfb\x90\xc0" + rest)
    assert not looks_like_mp3(rest)
    assert not looks_like_mp3(b"\xff\xfb\x90\xc0" + b"\x01" * 413)  # exactly one frame long


def test_real_mp3_is_recognised_without_a_content_type() -> None:
    pcm = array.array("h", [1000, -1000] * 22050).tobytes()
    mp3 = encode_mp3(pcm, 22050)
    start = mp3.find(b"\xff")
    assert looks_like_mp3(mp3[start:])


def test_heard_exactly_whatever_form_the_answers_take(
    kuhu_emulator: KuhuEmulator, capture: Any
) -> None:
    kuhu_emulator.mp3_encoder = encode_mp3
    texts = {"wav": "容器。", "octet": "八位字节。", "wav_other_rate": "别的采样率。"}
    for form, text in texts.items():
        kuhu_emulator.fail_text(text, form)
    with kuhu_engine() as engine:
        for text in texts.values():
            engine.say(text)
        engine.runAndWait()
    other = other_rate(22050)
    sent = render(kuhu_emulator, "别的采样率。", other)
    want = nonzero(
        expected_pcm(kuhu_emulator, "容器。") + expected_pcm(kuhu_emulator, "八位字节。")
    )
    heard = capture.read()
    assert heard.startswith(want)  # the first two exactly; the third resampled:
    tail = heard[len(want) :]  # the capture drops zero samples: a few may be missing
    assert resampling_error(tail, sent, other, 22050, slack=len(tail) // 200) < 0.1


def test_a_save_whose_pieces_come_at_different_rates_has_one_right_rate(
    kuhu_emulator: KuhuEmulator, tmp_path: Path
) -> None:
    # Before: later pieces were joined under the first piece's header and played at the
    # wrong speed. Every piece is now made the asked rate.
    text = "第一句话在这里。" + "第二句话比第一句长得多，" * 12 + "结束。"
    engine = Engine("kuhu")
    out = tmp_path / "mixed.wav"
    try:
        engine.setProperty("sample_rate", 16000)
        asked: list[str] = []

        def plan(rec: Any) -> str | None:
            # The second request to arrive (pieces are fetched side by side, so which
            # piece that is may vary) comes back at another rate.
            asked.append(rec.text)
            return "wav_other_rate" if len(asked) == 2 else None

        kuhu_emulator.set_fault_plan(plan)
        engine.save_to_file(text, str(out))
        engine.runAndWait()
    finally:
        engine.proxy._driver.destroy()
    assert len(asked) >= 2
    other = asked[1]
    pieces = [text[a:b] for a, b in speech_pieces(text)]
    assert sorted(asked) == sorted(pieces)
    wav = parse_wav(out.read_bytes())
    assert (wav.sample_rate, wav.channels) == (16000, 1)
    at = 0
    for piece in pieces:  # in the file, in the text's order
        if piece == other:  # resampled: as many frames as it lasts at 16 kHz
            sent = render(kuhu_emulator, piece, 24000)
            size = len(sent) * 16000 // 24000 // 2 * 2
            assert resampling_error(wav.data[at : at + size], sent, 24000, 16000) < 0.1
        else:
            size = len(render(kuhu_emulator, piece, 16000))
            assert wav.data[at : at + size] == render(kuhu_emulator, piece, 16000)
        at += size
    assert at == len(wav.data)


# -- answers longer than their text can make ---------------------------------------------
# "你好" bills 4 characters (2 Han): at rate 1 the longest answer we accept is
# 3 + 0.6 * 4 = 5.4 s (Request.max_seconds). The numbers below are written here, not
# read from the code.


def _wav(seconds: float, rate: int = 22050, channels: int = 1) -> bytes:
    import struct

    frames = int(seconds * rate)
    data = b"\x10\x00" * frames * channels
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


def _answering(body: bytes, content_type: str) -> KuhuClient:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": content_type})

    return KuhuClient(
        "k",
        api_url="https://api.example.com/api/ai/audiosave",
        transport=httpx.MockTransport(handler),
        backoff_base=0.001,
        max_attempts=1,
    )


@pytest.mark.parametrize("channels", [1, 2])
def test_a_wav_answer_longer_than_its_text_can_make_is_refused(channels: int) -> None:
    with _answering(_wav(5.0, channels=channels), "audio/wav") as client:
        assert len(client.synthesize("你好", format="pcm")) == 5 * 22050 * 2  # 5 s: kept
    with (
        _answering(_wav(6.0, channels=channels), "audio/wav") as client,
        pytest.raises(BadResponseError, match="more than its text can make"),
    ):
        client.synthesize("你好", format="pcm")


def test_an_mp3_answer_longer_than_its_text_can_make_is_refused() -> None:
    tone = array.array("h", (int(8000 * math.sin(i / 10)) for i in range(22050 * 6))).tobytes()
    with _answering(encode_mp3(tone[: 22050 * 2 * 3], 22050), "audio/mpeg") as client:
        assert abs(len(client.synthesize("你好", format="pcm")) / 2 / 22050 - 3.0) < 0.1
    with (
        _answering(encode_mp3(tone, 22050), "audio/mpeg") as client,
        pytest.raises(BadResponseError, match="longer than its text can make"),
    ):
        client.synthesize("你好", format="pcm")
