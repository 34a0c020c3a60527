"""The emulator follows the contract: our tests are only as good as it is."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from kuhu_driver.api import DEFAULT_VOICE
from kuhu_driver.testing import KuhuEmulator

V = DEFAULT_VOICE.id


def post(emu: KuhuEmulator, **params: str) -> httpx.Response:
    return httpx.post(
        emu.url,
        content=urlencode({"key": emu.api_key, **params}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_get_and_post_give_the_same_audio() -> None:
    with KuhuEmulator() as emu:
        params = {"key": emu.api_key, "text": "你好", "voice": V, "format": "pcm"}
        got = httpx.get(emu.url, params=params)
        posted = post(emu, text="你好", voice=V, format="pcm")
        assert got.status_code == posted.status_code == 200
        assert got.content == posted.content == emu.render("你好", voice=V)
        assert [r.method for r in emu.requests] == ["GET", "POST"]


def test_audio_is_deterministic_and_follows_text_and_rate() -> None:
    emu = KuhuEmulator()
    a = emu.render("你好", voice=V)
    assert a == emu.render("你好", voice=V)
    assert a != emu.render("您好", voice=V)
    assert a != emu.render("你好", voice=V, volume=51)
    one, two = emu.render("好", voice=V), emu.render("好好", voice=V)
    assert len(two) - 32 == 2 * (len(one) - 32)  # one tone per billed character
    slow, fast = emu.render("你好", voice=V, rate=0.5), emu.render("你好", voice=V, rate=2.0)
    assert len(slow) - 32 == pytest.approx(4 * (len(fast) - 32), rel=0.01)
    assert emu.render("你好", voice=V, format="wav")[:4] == b"RIFF"
    assert emu.render("你好", voice=V, format="mp3")[:3] == b"ID3"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"text": "", "voice": V}, 400),
        ({"text": "x", "voice": "v3-voice-nothex"}, 400),
        ({"text": "x"}, 400),
        ({"text": "你" * 1001, "voice": V}, 400),
        ({"text": "x", "voice": V, "format": "ogg"}, 400),
        ({"text": "x", "voice": V, "sample_rate": "11025"}, 400),
        ({"text": "x", "voice": V, "volume": "101"}, 400),
        ({"text": "x", "voice": V, "rate": "nan"}, 400),
        ({"text": "x", "voice": V, "pitch": "0.4"}, 400),
        ({"text": "你" * 1000, "voice": V}, 200),
    ],
)
@pytest.mark.parametrize("style", ["status", "json"])
def test_parameter_checks_in_both_error_styles(
    params: dict[str, str], code: int, style: str
) -> None:
    with KuhuEmulator(error_style=style) as emu:  # type: ignore[arg-type]
        resp = post(emu, **params)
        if code == 200:
            assert resp.status_code == 200 and resp.headers["content-type"].startswith("audio/")
            assert emu.requests[0].billed == 2000
        else:
            assert resp.status_code == (code if style == "status" else 200)
            assert resp.json()["code"] == code


def test_key_and_signature_checks() -> None:
    with KuhuEmulator(api_secret="sk") as emu:
        assert post(emu, text="x", voice=V).status_code == 403  # unsigned
        query = urlencode({"key": emu.api_key, "text": "x", "voice": V})
        sign = hashlib.md5((query + "sk").encode()).hexdigest()
        assert httpx.get(f"{emu.url}?{query}", headers={"sign": sign}).status_code == 200
        assert httpx.get(f"{emu.url}?{query}", headers={"sign": "0" * 32}).status_code == 403
        wrong_key = query.replace(emu.api_key, "nope")
        sign = hashlib.md5((wrong_key + "sk").encode()).hexdigest()
        assert httpx.get(f"{emu.url}?{wrong_key}", headers={"sign": sign}).status_code == 403


def test_log_counts_attempts_billing_and_breaches() -> None:
    with KuhuEmulator(rate_limit=3) as emu:
        for _ in range(5):
            post(emu, text="你好", voice=V)
        assert [r.attempt for r in emu.requests] == [1, 2, 3, 4, 5]
        assert emu.billed_total() == 5 * 4
        assert emu.rate_limit_breaches == 2  # the 4th and 5th within a second
        assert emu.max_requests_in_window == 5


def test_the_stats_which_hold_every_text_need_the_key_and_the_key_stays_off_argv(
    tmp_path: Path,
) -> None:
    """Another user of the machine can reach a port on loopback and read ``ps``: the
    stats answer only with the key, and the key comes from a file or the environment."""
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from kuhu_driver.testing import STATS_PATH, read_banner, read_stats

    key_file = tmp_path / "key"
    key_file.write_text("a-key-nobody-else-sees\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuhu_driver.testing", f"--key-file={key_file}"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUHU_EMULATOR_SECRET": "a-secret-from-the-environment"},
    )
    assert proc.stdout is not None
    try:
        env, _ = read_banner(proc.stdout)
        assert env["KUHU_API_KEY"] == "a-key-nobody-else-sees"
        assert env["KUHU_API_SECRET"] == "a-secret-from-the-environment"
        url = env["KUHU_API_URL"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url.split("/api/")[0] + STATS_PATH, timeout=10)
        assert refused.value.code == 403
        refused.value.close()
        with pytest.raises(urllib.error.HTTPError):
            read_stats(url, "a-guess")
        assert read_stats(url, "a-key-nobody-else-sees")["requests"] == 0
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"nobody-else" not in cmdline and b"a-secret" not in cmdline
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
