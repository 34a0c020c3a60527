"""The slow network in front of the emulator (kuhu_driver/testing/_slowlink.py) and its
HTTPS (testing/_tls.py): a new connection costs its TCP and TLS round trips, a reused
one only the request's; bandwidth bounds a transfer; the server closing is relayed;
``python -m kuhu_driver.testing --tls --rtt`` serves a client that trusts the printed
certificate, and only such a client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kuhu_driver.api import KuhuClient, _transport
from kuhu_driver.errors import TLSError
from kuhu_driver.testing import KuhuEmulator, SlowLink, read_banner

RTT = 0.1


def timed(client: KuhuClient, text: str) -> float:
    client.line.http()  # httpx imported and the client built: not a network cost
    t0 = time.monotonic()
    client.synthesize(text)
    return time.monotonic() - t0


@pytest.mark.timing  # bounds of 80-250 ms over the link
@pytest.mark.usefixtures("trusted")
def test_https_through_the_link_costs_tcp_tls_and_request_round_trips(
    self_signed: tuple[str, str],
) -> None:
    cert, key = self_signed
    with (
        KuhuEmulator(tls_cert=cert, tls_key=key, audio_seconds_per_billed_char=0.005) as emu,
        SlowLink(("127.0.0.1", emu.port), rtt=RTT) as link,
        KuhuClient(emu.api_key, api_url=link.url(emu.url)) as client,
    ):
        first = timed(client, "你好。")  # TCP, TLS 1.3, then the request: 3 round trips
        assert link.round_trips() == 3
        t_again = time.monotonic()
        again = timed(client, "再见。")  # the same connection: 1 round trip
        assert link.round_trips(since=t_again) == 1
        assert [r.text for r in emu.requests] == ["你好。", "再见。"]
        assert emu.requests[0].connection == emu.requests[1].connection
    # the counts above are exact; the times show the link delays each trip, no more
    assert 3 * RTT <= first < 3 * RTT + 0.25
    assert RTT <= again < RTT + 0.25


@pytest.mark.timing  # bounds of 80-250 ms over the link
def test_plain_http_new_connection_two_round_trips_and_bandwidth() -> None:
    with (
        KuhuEmulator(audio_seconds_per_billed_char=0.08) as emu,
        SlowLink(("127.0.0.1", emu.port), rtt=RTT, bandwidth=100_000) as link,
        KuhuClient(emu.api_key, api_url=link.url(emu.url)) as client,
    ):
        client.line.http()
        t0 = time.monotonic()
        audio = client.synthesize("你" * 20)  # 3.2 s of 22,050 Hz audio
        took = time.monotonic() - t0
        assert link.round_trips() == 2  # TCP, the request
    assert len(audio) > 140_000
    assert took >= 2 * RTT + len(audio) / 100_000
    assert took < 2 * RTT + len(audio) / 100_000 + 0.4


def test_the_server_closing_an_idle_connection_reaches_the_client() -> None:
    with (
        KuhuEmulator(audio_seconds_per_billed_char=0.005) as emu,
        SlowLink(("127.0.0.1", emu.port), rtt=0.02) as link,
        KuhuClient(emu.api_key, api_url=link.url(emu.url)) as client,
    ):
        emu.idle_timeout = 0.2
        client.synthesize("一。")
        time.sleep(0.5)  # closed by the server, and the close relayed
        client.synthesize("二。")  # so a new connection, not an error
        assert [r.connection for r in emu.requests] == [1, 2]


def test_bad_link_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rtt"):
        SlowLink(("127.0.0.1", 1), rtt=-1)
    with pytest.raises(ValueError, match="bandwidth"):
        SlowLink(("127.0.0.1", 1), rtt=0.1, bandwidth=0)


def test_the_command_serves_https_through_a_slow_link(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuhu_driver.testing", "--tls", "--rtt=0.05"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    try:
        assert proc.stdout is not None
        env, cert = read_banner(proc.stdout)
        assert cert is not None
        assert env["KUHU_API_URL"].startswith("https://127.0.0.1:")
        assert Path(cert).read_text().startswith("-----BEGIN CERTIFICATE-----")
        with (
            KuhuClient(env["KUHU_API_KEY"], api_url=env["KUHU_API_URL"]) as client,
            pytest.raises(TLSError),  # not trusted unless a test says so
        ):
            client.synthesize("你好。")
        monkeypatch.setattr(_transport, "_also_trusted", [cert])
        with KuhuClient(env["KUHU_API_KEY"], api_url=env["KUHU_API_URL"]) as client:
            t0 = time.monotonic()
            assert client.synthesize("你好。")
            assert time.monotonic() - t0 >= 3 * 0.05
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
