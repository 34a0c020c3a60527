"""Secrets kept and transport checked: canaries through success, retry and failure paths."""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import Recorder, kuhu_engine, use_emulator
from pyttsx3.engine import Engine

import kuhu_driver  # noqa: F401
from kuhu_driver._config import resolve_settings
from kuhu_driver.api import KuhuClient
from kuhu_driver.errors import ConfigError, KuhuError, TLSError
from kuhu_driver.pipeline import Synthesizer
from kuhu_driver.testing import EmulatorRequest, KuhuEmulator

CANARY_KEY = "CANARYKEY9f8e7d6c5b4a3"
CANARY_SECRET = "CANARYSECRET1a2b3c4d5e"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.fmt = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.args))
        self.texts.append(str(record.msg))
        if record.exc_info:
            self.texts.append(self.fmt.formatException(record.exc_info))
        if record.stack_info:
            self.texts.append(record.stack_info)


@pytest.fixture
def all_logs() -> Iterator[_Collect]:
    handler = _Collect()
    names = ["", "httpx", "httpcore", "kuhu_driver", "kuhu_driver.api", "kuhu_driver.driver"]
    loggers = [logging.getLogger(n) for n in names]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)
    for lg, level in zip(loggers, old, strict=True):
        lg.setLevel(level)


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def test_canaries_never_leak(
    all_logs: _Collect, capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts: list[str] = []
    errors: list[BaseException] = []
    with KuhuEmulator(api_key=CANARY_KEY, api_secret=CANARY_SECRET) as emu:
        use_emulator(monkeypatch, emu)
        monkeypatch.setenv("KUHU_CACHE", "off")
        with kuhu_engine() as engine:
            engine.connect("error", lambda name, exception: errors.append(exception))
            rec = Recorder()
            rec.connect(engine)
            plan = {"重试之后成功": ["500", "reset"], "失败": ["500"] * 3, "权限": ["json403"]}

            def faults(r: EmulatorRequest) -> str | None:
                mine = plan.get(r.text, [])
                return mine[r.attempt - 1] if r.attempt <= len(mine) else None

            emu.set_fault_plan(faults)
            engine.say("一次成功", "ok")  # success
            engine.say("重试之后成功", "retry")  # retry path
            engine.say("失败", "fail")  # failure path
            engine.say("权限", "auth")
            engine.runAndWait()
            texts += [repr(engine.proxy._driver), repr(engine.proxy._driver._synth)]
        assert rec.utterances()[1] == ("finished-utterance", "ok", True)
        assert rec.utterances()[3] == ("finished-utterance", "retry", True)
        # A wrong secret, and a dead endpoint, raised to the caller.
        with KuhuClient(CANARY_KEY, api_secret=CANARY_SECRET + "x", api_url=emu.url) as bad:
            texts.append(repr(bad))
            with pytest.raises(KuhuError) as info:
                bad.synthesize("签名错")
            errors.append(info.value)
        for req in emu.requests:
            assert req.key_in_body and not req.key_elsewhere  # only in the POST body
            assert not req.secret_seen  # never sent
            assert req.method == "POST"
        # The emulator verified every signature but the deliberately wrong one.
        assert [r.outcome for r in emu.requests].count("403") == 1
    with KuhuClient(CANARY_KEY, api_secret=CANARY_SECRET, api_url="http://127.0.0.1:9/x") as dead:
        with pytest.raises(KuhuError) as info:
            dead.synthesize("连不上")
        errors.append(info.value)
    settings = resolve_settings(api_key=CANARY_KEY, api_secret=CANARY_SECRET)
    texts += [repr(settings), str(settings)]
    assert {type(e).__name__ for e in errors} >= {"ServerError", "AuthError", "TransportError"}
    for exc in errors:
        for link in _chain(exc):
            texts += [str(link), repr(link), repr(link.args)]
            if isinstance(link, httpx.HTTPError):
                with contextlib.suppress(RuntimeError):
                    texts.append(str(link.request.url))
    texts += all_logs.texts
    assert len(all_logs.texts) > 20  # DEBUG logging really was on
    leaks = [t for t in texts if CANARY_KEY in t or CANARY_SECRET in t]
    assert leaks == []


def test_self_signed_https_is_refused_and_nothing_plays(
    self_signed: tuple[str, str], capture: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        assert emu.url.startswith("https://")
        use_emulator(monkeypatch, emu)
        # Variables that loosen TLS elsewhere change nothing here.
        for name, value in [
            ("SSL_CERT_FILE", cert),
            ("REQUESTS_CA_BUNDLE", cert),
            ("CURL_CA_BUNDLE", ""),
            ("PYTHONHTTPSVERIFY", "0"),
            ("KUHU_VERIFY", "0"),
            ("KUHU_INSECURE", "1"),
            ("KUHU_CACHE", "off"),
        ]:
            monkeypatch.setenv(name, value)
        with kuhu_engine() as engine:
            rec = Recorder()
            rec.connect(engine)
            engine.say("不安全", "tls")
            engine.runAndWait()
        assert rec.utterances() == [
            ("started-utterance", "tls"),
            ("error", "tls", "TLSError"),
            ("finished-utterance", "tls", False),
        ]
        assert emu.requests == []  # the handshake failed: no HTTP request, no key sent
    assert capture.read() == b""


def test_no_argument_turns_certificate_checks_off() -> None:
    for fn in (KuhuClient.__init__, resolve_settings, Synthesizer.from_settings):
        params = set(inspect.signature(fn).parameters)
        assert not params & {"verify", "insecure", "ssl_verify", "verify_ssl", "check_certificate"}
    with pytest.raises(TypeError):
        KuhuClient("k", api_url="https://x.example", verify=False)  # type: ignore[call-arg]


def test_a_transport_that_skips_certificate_checks_is_refused(
    self_signed: tuple[str, str],
) -> None:
    """The one way in for a transport of the caller's: such a transport reached the
    self-signed emulator and got audio (issue 32's probe). It is refused before any
    connection; the client's own transport, on the same server, is refused by TLS."""
    cert, key = self_signed
    with KuhuEmulator(tls_cert=cert, tls_key=key) as emu:
        insecure = httpx.HTTPTransport(verify=False)
        with pytest.raises(TypeError, match="MockTransport"):
            KuhuClient(emu.api_key, api_url=emu.url, transport=insecure)
        with pytest.raises(TLSError), KuhuClient(emu.api_key, api_url=emu.url) as client:
            client.synthesize("你好")
        assert emu.requests == []


def test_tls_error_is_not_retried(self_signed: tuple[str, str]) -> None:
    cert, key = self_signed
    with (
        KuhuEmulator(tls_cert=cert, tls_key=key) as emu,
        KuhuClient(emu.api_key, api_url=emu.url) as c,
    ):
        with pytest.raises(TLSError, match="certificate"):
            c.synthesize("x")
        assert c.attempts_made == 1


@pytest.mark.parametrize("url", ["http://api.kuhuyun.com/api/ai/audiosave", "http://192.168.1.2/x"])
def test_plain_http_to_a_real_host_is_refused_at_init(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUHU_API_KEY", "k")
    monkeypatch.setenv("KUHU_API_URL", url)
    with pytest.raises(ConfigError, match="https"):
        Engine("kuhu")
