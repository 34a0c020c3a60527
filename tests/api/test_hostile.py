"""Hostile answers, round two: small hostile servers on loopback (tests/hostile.py)
against the client, kuhu-say and the driver. Nothing that is not audio is played,
written or cached; deadlines and stop() cover the headers too; every error is one line."""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from helpers import kuhu_engine
from hostile import HostileServer, answer, drip_headers, never_answer, pcm_answer

from kuhu_driver._cancel import CancelToken
from kuhu_driver.api import KuhuClient
from kuhu_driver.audio import wav_header
from kuhu_driver.cli import main
from kuhu_driver.errors import BadResponseError, KuhuError, StoppedError, TransportError

KEY = "sk-Ab/cd+Ef=9&x"


def sender(raw: bytes) -> Any:
    return lambda conn: conn.sendall(raw)


NOT_AUDIO = {
    "JSON error with a BOM": answer(
        b"\xef\xbb\xbf" + json.dumps({"code": 500, "msg": "busy"}).encode(), "application/json"
    ),
    "HTML with a BOM": answer(b"\xef\xbb\xbf<!DOCTYPE html><html>502</html>", "text/html"),
    "Chinese text past 512 bytes": answer(("服务繁忙，请稍后再试。" * 40).encode(), "audio/L16"),
    "HTML opening with <div>": answer(b"<div class='err'>Bad gateway</div>\n" * 20, "audio/L16"),
    "UTF-16 text": answer("服务繁忙，请稍后再试。".encode("utf-16"), "audio/L16"),
}


@pytest.mark.parametrize("name", list(NOT_AUDIO))
def test_text_in_a_200_is_never_written_or_cached(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    with HostileServer(sender(NOT_AUDIO[name])) as server:
        monkeypatch.setenv("KUHU_API_URL", server.url)
        monkeypatch.setenv("KUHU_API_KEY", KEY)
        monkeypatch.setenv("KUHU_CACHE", "on")
        monkeypatch.setenv("KUHU_CACHE_DIR", str(cache))
        for _ in range(2):  # the second run asks again: nothing was cached
            assert main(["你好", "--out", str(tmp_path / "x.wav")]) != 0
        asked = len(server.requests)
    err = capsys.readouterr().err
    assert "kuhu-say: error: " in err and "wrote" not in err, err
    assert not (tmp_path / "x.wav").exists()
    assert asked >= 2
    assert [p for p in cache.rglob("*") if p.is_file() and p.name != "CACHEDIR.TAG"] == []


def test_real_pcm_is_still_audio_whatever_its_label() -> None:
    pcm = struct.pack("<2205h", *((i * 37) % 2000 - 1000 for i in range(2205)))
    with (
        HostileServer(sender(answer(pcm, "text/html"))) as server,
        KuhuClient(KEY, api_url=server.url) as client,
    ):
        assert client.synthesize("你好") == pcm


@pytest.mark.parametrize("rate", [1, 0x7FFFFFFF, 11025])
def test_a_wav_at_a_rate_the_api_never_makes_is_refused_in_one_line(rate: int) -> None:
    data = b"\x01\x00" * 200_000
    body = wav_header(rate, len(data)) + data
    with (
        HostileServer(sender(answer(body, "audio/wav"))) as server,
        KuhuClient(KEY, api_url=server.url, max_attempts=1) as client,
        pytest.raises(BadResponseError, match="never produces") as exc,
    ):
        client.synthesize("你好")
    assert "\n" not in str(exc.value)


def test_headers_dripped_a_byte_at_a_time_are_cut_at_the_deadline() -> None:
    with HostileServer(drip_headers) as server:
        with KuhuClient(KEY, api_url=server.url, timeout=1.0, deadline=2.5) as client:
            t0 = time.monotonic()
            with pytest.raises(TransportError, match="KUHU_TIMEOUT"):
                client.synthesize("你好")
            assert time.monotonic() - t0 < 2.5 + 0.3
        assert 2 <= len(server.requests) <= 3


@pytest.mark.parametrize("respond", [drip_headers, never_answer], ids=["drip", "silent"])
def test_stop_cuts_an_attempt_waiting_for_headers_and_frees_its_worker(
    respond: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine saves on one engine, each stopped while the server holds its headers back
    (more than the 8 fetch workers); then the server heals, and a tenth save is written
    at once: no worker was left stuck."""

    import kuhu_driver  # noqa: F401 - registers the driver

    healthy = threading.Event()

    def serve(conn: Any) -> None:
        if healthy.is_set():
            conn.sendall(pcm_answer())
        else:
            respond(conn)

    with HostileServer(serve) as server:
        monkeypatch.setenv("KUHU_API_URL", server.url)
        monkeypatch.setenv("KUHU_API_KEY", KEY)
        monkeypatch.setenv("KUHU_TIMEOUT", "30")
        with kuhu_engine() as engine:
            for i in range(9):
                engine.save_to_file(f"第{i}句。", str(tmp_path / f"{i}.wav"))
                threading.Timer(0.3, engine.stop).start()
                t0 = time.monotonic()
                engine.runAndWait()
                assert time.monotonic() - t0 < 1.5
            healthy.set()
            t0 = time.monotonic()
            engine.save_to_file("好了。", str(tmp_path / "ok.wav"))
            engine.runAndWait()
            assert time.monotonic() - t0 < 2.0
    assert (tmp_path / "ok.wav").read_bytes()[44:] == b"\x01\x00" * 2205
    assert not any((tmp_path / f"{i}.wav").exists() for i in range(9))


def test_stop_ends_a_request_to_a_silent_server_at_once_not_at_its_timeout() -> None:
    with (
        HostileServer(never_answer) as server,
        KuhuClient(KEY, api_url=server.url, timeout=30) as client,
    ):
        cancel = CancelToken()
        threading.Timer(0.3, cancel.set).start()
        t0 = time.monotonic()
        with pytest.raises(StoppedError):
            client.send(_request(), cancel=cancel)
        assert time.monotonic() - t0 < 0.6


def _request() -> Any:
    from kuhu_driver.api import build_request

    return build_request("你好")


@pytest.mark.parametrize(
    "echo",
    [
        urllib.parse.quote(KEY),  # path style: "/" kept
        urllib.parse.quote(KEY, safe=""),
        urllib.parse.quote_plus(KEY),
        "sk-Ab&#x2F;cd+Ef=9&amp;x",
        "sk-Ab/cd+Ef=9&amp;x",
        "sk-Ab&#47;cd+Ef=9&amp;x",
    ],
)
def test_a_key_echoed_in_any_encoding_is_hidden(echo: str) -> None:
    body = json.dumps({"code": 403, "msg": f"bad key {echo}"}).encode()
    with (
        HostileServer(sender(answer(body, "application/json", 403))) as server,
        KuhuClient(KEY, api_url=server.url) as client,
        pytest.raises(KuhuError) as exc,
    ):
        client.synthesize("你好")
    assert echo not in str(exc.value) and "***" in str(exc.value)


def test_a_password_in_the_url_never_reaches_a_log_line() -> None:
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with HostileServer(sender(pcm_answer())) as server:
            url = server.url.replace("http://", "http://user:s3cretpw@")
            with KuhuClient(KEY, api_url=url) as client:
                client.synthesize("你好")
            (req,) = server.requests
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    assert any("HTTP Request" in line for line in seen)  # httpx did log the request
    assert not any("s3cretpw" in line for line in seen)
    assert b"authorization: basic dxnlcjpzm2nyzxrwdw==" in req.head.lower()  # user:s3cretpw


def test_a_server_message_is_one_line_with_its_control_characters_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    msg = "bad\nkuhu-say: wrote /home/you/important.wav\x1b[2J\x1b]0;pwned\x07"
    body = json.dumps({"code": 400, "msg": msg}).encode()
    with HostileServer(sender(answer(body, "application/json", 400))) as server:
        monkeypatch.setenv("KUHU_API_URL", server.url)
        monkeypatch.setenv("KUHU_API_KEY", KEY)
        assert main(["你好", "--out", str(tmp_path / "x.wav")]) != 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    lines = err.splitlines()
    (said,) = [line for line in lines if "the API said" in line]  # one line
    assert "\\n" in said and "\\x1b[2J" in said, err
    assert not any(line.startswith("kuhu-say: wrote") for line in lines)
