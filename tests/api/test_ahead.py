"""A connection opened ahead of the request that takes it (kuhu_driver/api/_ahead.py,
``KuhuClient.open_ahead``): TCP and TLS only, nothing sent; the next request uses it
instead of paying the round trips; a stale one is not used; a failure to open it is the
request's failure, once; a stopped request does not wait for it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpcore
import pytest
from helpers import expected_pcm, wait_until

from kuhu_driver._cancel import CancelToken
from kuhu_driver._model import Voicing
from kuhu_driver.api import (
    DEFAULT_VOICE,
    KuhuClient,
    _ahead,
    _client,
    _wire,
    request_for,
)
from kuhu_driver.errors import StoppedError, TLSError, TransportError
from kuhu_driver.testing import KuhuEmulator, SlowLink

RTT = 0.2


@pytest.fixture
def tls_emulator(self_signed: tuple[str, str]) -> Iterator[KuhuEmulator]:
    cert, key = self_signed
    with KuhuEmulator(tls_cert=cert, tls_key=key, audio_seconds_per_billed_char=0.005) as emu:
        yield emu


@contextlib.contextmanager
def over_link(emu: KuhuEmulator, rtt: float) -> Iterator[tuple[KuhuClient, SlowLink]]:
    """A client of ``emu`` through a link of ``rtt``, httpx imported and the client built
    (not a network cost); and the link, which counts the round trips it carries."""
    with (
        SlowLink(("127.0.0.1", emu.port), rtt=rtt) as link,
        KuhuClient(emu.api_key, api_url=link.url(emu.url)) as client,
    ):
        client.line.http()
        yield client, link


def wait_until_opened(client: KuhuClient, timeout: float = 5.0) -> None:
    opening = client.line.ahead._opening
    assert opening is not None
    assert opening.done.wait(timeout)
    assert opening.error is None, opening.error


@pytest.mark.usefixtures("trusted")
def test_a_connection_opened_a_while_ago_is_used_after_its_session_tickets_came(
    tls_emulator: KuhuEmulator,
) -> None:
    """TLS 1.3 servers send session tickets after the handshake: the socket turns
    readable although the connection is open and idle. Opened at init and used a second
    later (an engine's usual case), it must still be taken, not dropped for a new one."""
    import ssl

    with over_link(tls_emulator, RTT) as (client, link):
        client.open_ahead()
        wait_until_opened(client)
        sock = client.line.ahead._opening.sock  # type: ignore[union-attr]
        assert isinstance(sock, ssl.SSLSocket) and sock.version() == "TLSv1.3"
        wait_until(link.answered, what="the server's session tickets")
        t_request = time.monotonic()
        client.synthesize("你好。")
    (req,) = tls_emulator.requests
    assert tls_emulator.connections == 1 and req.connection == 1
    assert req.connection_opened < t_request


@pytest.mark.usefixtures("trusted")
def test_a_request_after_the_connection_was_opened_ahead_pays_one_round_trip(
    tls_emulator: KuhuEmulator,
) -> None:
    """Counted by the link, not timed: a busy machine stretches the time, not the count."""
    with over_link(tls_emulator, RTT) as (client, link):
        assert client.open_ahead()
        assert not client.open_ahead()  # one at a time
        assert client.idle_for() == 0  # the keeper opens no other meanwhile
        wait_until_opened(client)
        # TCP, then TLS 1.3: the client's hello, then its finish (which awaits nothing)
        wait_until(lambda: link.round_trips() == 3, what="the opening's three flights")
        wait_until(link.answered, what="the server's session tickets")  # as at init
        assert tls_emulator.connections == 1  # TCP and TLS done ...
        assert tls_emulator.requests == [] and tls_emulator.heads == 0  # ... nothing sent
        t0 = time.monotonic()
        client.synthesize("你好。")
        took = time.monotonic() - t0
        assert tls_emulator.connections == 1
        assert link.round_trips(since=t0) == 1  # not the 3 of a new connection
    assert took >= RTT  # the answer came over the link


@pytest.mark.usefixtures("trusted")
def test_a_request_sent_while_it_opens_waits_for_it_and_opens_no_other(
    tls_emulator: KuhuEmulator,
) -> None:
    with over_link(tls_emulator, RTT) as (client, link):
        t0 = time.monotonic()
        client.open_ahead()
        client.synthesize("你好。")
        took = time.monotonic() - t0
        (req,) = tls_emulator.requests
        assert tls_emulator.connections == 1 and req.connection == 1
        # TCP, the client's hello, its finish with the request behind it: nothing more
        assert link.round_trips() == 3
    assert took >= 3 * RTT


def test_plain_http_the_request_takes_the_tcp_connection(kuhu_emulator: KuhuEmulator) -> None:
    with KuhuClient(kuhu_emulator.api_key, api_url=kuhu_emulator.url) as client:
        assert client.open_ahead()
        wait_until_opened(client)
        assert client.synthesize("你好。") == expected_pcm(kuhu_emulator, "你好。")
        assert client.synthesize("再见。") == expected_pcm(kuhu_emulator, "再见。")
    assert [r.connection for r in kuhu_emulator.requests] == [1, 1]
    assert kuhu_emulator.connections == 1


def test_a_connection_the_server_closed_meanwhile_is_not_used(
    kuhu_emulator: KuhuEmulator,
) -> None:
    kuhu_emulator.idle_timeout = 0.2
    with KuhuClient(kuhu_emulator.api_key, api_url=kuhu_emulator.url) as client:
        client.open_ahead()
        wait_until_opened(client)
        time.sleep(0.5)  # closed by the server, still fresh by age
        assert client.synthesize("你好。") == expected_pcm(kuhu_emulator, "你好。")
        assert client.attempts_made == 1  # no failed attempt on the dead connection
    (req,) = kuhu_emulator.requests
    assert req.connection == 2


def test_an_old_connection_is_not_used(
    kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_client, "KEEP_ALIVE", 0.1)
    with KuhuClient(kuhu_emulator.api_key, api_url=kuhu_emulator.url) as client:
        client.open_ahead()
        wait_until_opened(client)
        time.sleep(0.2)
        assert client.idle_for() > 0  # the keeper may open one again
        client.synthesize("你好。")
    (req,) = kuhu_emulator.requests
    assert req.connection == 2


def test_nothing_listening_is_the_requests_error_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/api/ai/audiosave"
    with KuhuClient("k" * 24, api_url=url, max_attempts=1) as client:
        client.open_ahead()
        with pytest.raises(TransportError, match="refused"):
            client.synthesize("你好。")
        assert client.line.ahead._opening is None  # handed over, not kept


def test_an_untrusted_certificate_refuses_before_anything_is_sent(
    tls_emulator: KuhuEmulator,
) -> None:
    with KuhuClient(tls_emulator.api_key, api_url=tls_emulator.url, max_attempts=1) as client:
        client.open_ahead()
        with pytest.raises(TLSError):
            client.synthesize("你好。")
    assert tls_emulator.requests == []


@pytest.mark.usefixtures("trusted")
def test_a_request_stopped_while_the_connection_opens_ends_at_once(
    tls_emulator: KuhuEmulator,
) -> None:
    with over_link(tls_emulator, 2.0) as (client, _link):
        client.open_ahead()
        cancel = CancelToken()
        threading.Timer(0.2, cancel.set).start()  # as the driver's stop() does
        t0 = time.monotonic()
        with pytest.raises(StoppedError):
            client.send(
                request_for("你好。", Voicing(DEFAULT_VOICE.id, 50, 1.0, 1.0, 22050), "pcm"),
                cancel=cancel,
            )
        took = time.monotonic() - t0
    assert took < 0.6  # not the 4 s of the handshake
    assert tls_emulator.requests == []


def test_closing_the_client_drops_the_connection_opened_ahead(
    kuhu_emulator: KuhuEmulator,
) -> None:
    client = KuhuClient(kuhu_emulator.api_key, api_url=kuhu_emulator.url)
    client.open_ahead()
    wait_until_opened(client)
    opening = client.line.ahead._opening
    assert opening is not None and opening.sock is not None
    client.close()
    assert opening.sock.fileno() == -1
    assert not client.open_ahead()


def test_a_client_with_a_mock_transport_opens_nothing_ahead() -> None:
    import httpx

    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    with KuhuClient("k" * 24, transport=transport) as client:
        assert not client.open_ahead()


def test_the_stream_maps_socket_failures_as_httpcore_does() -> None:
    a, b = socket.socketpair()
    stream = _wire.Opened(_ahead.Ready(a, None, "127.0.0.1"))
    with pytest.raises(httpcore.ReadTimeout):
        stream.read(10, timeout=0.05)
    b.sendall(b"hi")
    assert stream.read(10, timeout=1) == b"hi"
    stream.write(b"ok", timeout=1)
    assert b.recv(10) == b"ok"
    assert stream.get_extra_info("socket") is a
    assert stream.get_extra_info("ssl_object") is None
    assert stream.get_extra_info("is_readable") is False
    b.close()
    assert stream.get_extra_info("is_readable") is True  # the peer closed it
    stream.close()
    with pytest.raises(httpcore.WriteError):
        stream.write(b"x", timeout=1)


@pytest.mark.usefixtures("trusted")
def test_closing_the_client_ends_a_handshake_under_way(tls_emulator: KuhuEmulator) -> None:
    """The exit closes every client and then waits for work inside OpenSSL: a handshake
    over a slow link must not hold it."""
    with SlowLink(("127.0.0.1", tls_emulator.port), rtt=2.0) as link:
        client = KuhuClient(tls_emulator.api_key, api_url=link.url(tls_emulator.url))
        client.open_ahead()
        opening = client.line.ahead._opening
        assert opening is not None
        time.sleep(0.3)  # connected; the handshake waits on the link
        assert opening.raw is not None and not opening.done.is_set()
        t0 = time.monotonic()
        client.close()
        assert opening.done.wait(1.0)
        assert time.monotonic() - t0 < 0.5
        assert opening.error is not None and opening.sock is None


def test_a_plain_connection_opened_ahead_refuses_a_tls_upgrade() -> None:
    """Never asked in practice (only https connections are opened with TLS, and httpcore
    upgrades only those): if it were, the request fails rather than talk in clear."""
    import ssl

    a, b = socket.socketpair()
    with b:
        stream = _wire.Opened(_ahead.Ready(a, None, "127.0.0.1"))
        with pytest.raises(httpcore.ConnectError):
            stream.start_tls(ssl.create_default_context(), "127.0.0.1")
        assert a.fileno() == -1
