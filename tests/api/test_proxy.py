"""Corporate networks (kuhu_driver/api/_proxy.py, _transport.tls_context): a real HTTP
proxy on loopback (tinyproxy) carries the request as CONNECT with TLS inside; the
system's proxy is used unless bypassed; and the certificates a corporate or antivirus
root signs are trusted where the system's store trusts them, never by a variable."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_until

from kuhu_driver import _config
from kuhu_driver.api import DEFAULT_VOICE, KuhuClient
from kuhu_driver.api import _transport as transport
from kuhu_driver.errors import ConfigError, TLSError, TransportError
from kuhu_driver.testing import KuhuEmulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Tinyproxy:
    def __init__(self, folder: Path, *, connect_ports: tuple[int, ...] = ()) -> None:
        self.port = free_port()
        self.log = folder / "tinyproxy.log"
        conf = folder / "tinyproxy.conf"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log}"',
            "LogLevel Connect",
            "Allow 127.0.0.1",
            "MaxClients 20",
            *(f"ConnectPort {p}" for p in connect_ports),  # none listed: every port
        ]
        conf.write_text("\n".join(lines) + "\n")
        exe = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
        if not Path(exe).exists():
            pytest.fail("no tinyproxy: ./dev.sh test installs it")
        self.proc = subprocess.Popen([exe, "-d", "-c", str(conf)], stderr=subprocess.DEVNULL)
        wait_until(self._listening, 10, "tinyproxy")

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
        except OSError:
            return False
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    p = Tinyproxy(tmp_path)
    yield p
    p.stop()


@pytest.fixture
def https_emulator(self_signed: tuple[str, str], trusted: None) -> Iterator[KuhuEmulator]:
    cert, key = self_signed
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        yield emu


def speak_through(emu: KuhuEmulator) -> bytes:
    with KuhuClient(emu.api_key, api_url=emu.url) as client:
        return client.synthesize("你好。")


def test_a_proxy_carries_the_request_as_connect_and_never_sees_the_key(
    proxy: Tinyproxy, https_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_PROXY", proxy.url)
    emu = https_emulator
    assert speak_through(emu) == emu.render("你好。", voice=DEFAULT_VOICE.id)
    log = proxy.logged()
    assert f"CONNECT 127.0.0.1:{emu.port}" in log  # a tunnel: TLS end to end inside it
    assert emu.api_key not in log and "audiosave" not in log  # it saw host and port only
    assert [r.outcome for r in emu.requests] == ["ok"]


def test_the_systems_proxy_is_used_unless_bypassed_or_turned_off(
    proxy: Tinyproxy, https_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = https_emulator
    tunnel = f"CONNECT 127.0.0.1:{emu.port}"
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    speak_through(emu)
    assert proxy.logged().count(tunnel) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # bypassed for this host
    speak_through(emu)
    monkeypatch.delenv("NO_PROXY")
    monkeypatch.setenv("KUHU_PROXY", "none")  # a direct connection, whatever the system says
    speak_through(emu)
    assert proxy.logged().count(tunnel) == 1
    assert len(emu.requests) == 3


def test_a_plain_http_endpoint_never_goes_through_a_proxy(
    proxy: Tinyproxy, kuhu_emulator: KuhuEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain HTTP is for loopback only; through a proxy it would show the key."""
    monkeypatch.setenv("KUHU_PROXY", proxy.url)
    assert speak_through(kuhu_emulator) == kuhu_emulator.render("你好。", voice=DEFAULT_VOICE.id)
    assert "Request (" not in proxy.logged()  # tinyproxy logs every request it relays


def test_a_proxy_that_is_down_or_refuses_is_one_clear_error_naming_it(
    https_emulator: KuhuEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = https_emulator
    down = free_port()
    monkeypatch.setenv("KUHU_PROXY", f"http://user:hunter2@127.0.0.1:{down}")
    with pytest.raises(
        TransportError, match=f"could not connect to the proxy 127.0.0.1:{down}"
    ) as e:
        speak_through(emu)
    assert "hunter2" not in str(e.value)
    strict = Tinyproxy(tmp_path, connect_ports=(443,))  # tunnels to port 443 only
    try:
        monkeypatch.setenv("KUHU_PROXY", strict.url)
        with pytest.raises(TransportError, match=r"the proxy \S+ did not open a connection"):
            speak_through(emu)
    finally:
        strict.stop()
    assert emu.requests == []


@pytest.mark.parametrize(
    "value", ["socks5://u:hunter2@127.0.0.1:1080", "127.0.0.1:3128", "http://"]
)
def test_a_proxy_setting_that_is_not_an_http_proxy_is_a_config_error(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUHU_PROXY", value)
    with pytest.raises(ConfigError, match="KUHU_PROXY") as e:
        _config.resolve_settings(api_key="k")
    assert "hunter2" not in str(e.value)


def test_on_windows_and_macos_the_systems_store_decides(
    self_signed: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """truststore verifies with the system's store there. Simulated on Linux, where
    truststore reads OpenSSL's default store: a root put there (SSL_CERT_FILE standing
    in for the system store of a machine whose antivirus installed its root) is
    trusted; without it the same endpoint is refused. The real Linux path ignores the
    variable (tests/api/test_security.py)."""
    cert, key = self_signed
    monkeypatch.setattr(transport, "os_trust_store", lambda: True)
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        with pytest.raises(TLSError):
            speak_through(emu)
        monkeypatch.setenv("SSL_CERT_FILE", cert)
        assert speak_through(emu) == emu.render("你好。", voice=DEFAULT_VOICE.id)


def test_on_linux_the_distributions_bundle_is_trusted_only_if_root_alone_may_write_it(
    self_signed: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle a corporate root is added to (update-ca-certificates) is trusted;
    the same file writable by others (a planted root) is not."""
    if sys.platform == "win32" or os.getuid() != 0:
        pytest.fail("this test needs root (a bundle root owns); CI runs as root")
    cert, key = self_signed
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_bytes(Path(cert).read_bytes())
    monkeypatch.setattr(transport, "DISTRO_BUNDLES", (str(bundle),))
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        bundle.chmod(0o644)
        assert speak_through(emu) == emu.render("你好。", voice=DEFAULT_VOICE.id)
        bundle.chmod(0o666)
        with pytest.raises(TLSError):
            speak_through(emu)
