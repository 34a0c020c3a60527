from __future__ import annotations

import array
import itertools
import json
import math
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from helpers import XIAOWAN, resampling_error

from kuhu_driver._cancel import CancelToken
from kuhu_driver.api import DEFAULT_VOICE, KuhuClient, RateLimiter, RetryPolicy, build_request
from kuhu_driver.errors import (
    AuthError,
    BadRequestError,
    BadResponseError,
    ConfigError,
    KuhuError,
    RateLimitedError,
    ServerError,
    TransportError,
    TruncatedResponseError,
)
from kuhu_driver.testing import KuhuEmulator

PCM = b"\x01\x02" * 100


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> KuhuClient:
    return KuhuClient(
        "k",
        api_url="https://api.example.com/api/ai/audiosave",
        transport=httpx.MockTransport(handler),
        backoff_base=0.001,
        rate_limiter=RateLimiter(1000),
        **kw,  # type: ignore[arg-type]
    )


def recorder(
    sent: list[httpx.Request], response: Callable[[], httpx.Response]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(req: httpx.Request) -> httpx.Response:
        sent.append(req)
        return response()

    return handler


def test_post_form_body_and_sign_header_match_a_hand_computed_vector() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, content=PCM)

    client = mock_client(handler, api_secret="secret")
    client.synthesize("你好", voice="小婉", format="pcm")
    (req,) = seen
    assert req.method == "POST"
    assert req.url == "https://api.example.com/api/ai/audiosave"  # no key in the URL
    assert req.headers["content-type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert req.content == (
        b"key=k&text=%E4%BD%A0%E5%A5%BD&voice=v3-voice-b197c9912001439d890cf2a5a0b29226"
        b"&format=pcm&sample_rate=22050&volume=50&rate=1.0&pitch=1.0"
    )
    # md5 of that body + "secret", computed with md5sum.
    assert req.headers["sign"] == "9e64b32f7c7eeb6aeba4f1d4ea115b59"
    assert b"secret" not in req.content


def test_no_sign_header_without_a_secret() -> None:
    seen: list[httpx.Request] = []
    client = mock_client(recorder(seen, lambda: httpx.Response(200, content=PCM)))
    client.synthesize("hi", format="pcm")
    assert "sign" not in seen[0].headers


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": ""}, ValueError),
        ({"text": "   "}, ValueError),
        ({"text": None}, TypeError),
        ({"text": "你" * 1001}, ValueError),
        ({"voice": "nobody"}, ValueError),
        ({"format": "ogg"}, ValueError),
        ({"sample_rate": 11025}, ValueError),
        ({"sample_rate": "22050"}, TypeError),
        ({"volume": 101}, ValueError),
        ({"volume": float("nan")}, ValueError),
        ({"rate": 0.4}, ValueError),
        ({"rate": True}, TypeError),
        ({"pitch": float("inf")}, ValueError),
        ({"pitch": "1"}, TypeError),
    ],
)
def test_invalid_parameters_are_refused_before_sending(
    kwargs: dict[str, object], error: type
) -> None:
    sent: list[httpx.Request] = []
    client = mock_client(recorder(sent, lambda: httpx.Response(200, content=PCM)))
    args: dict[str, object] = {"text": "hi", "format": "pcm", **kwargs}
    text = args.pop("text")
    with pytest.raises(error):
        client.synthesize(text, **args)  # type: ignore[arg-type]
    assert sent == []


def test_2000_billed_chars_is_allowed() -> None:
    assert build_request("你" * 1000).billed == 2000


@pytest.mark.parametrize(
    "url",
    ["http://api.kuhuyun.com/api/ai/audiosave", "ftp://x", "http://10.0.0.1/x", "not-a-url"],
)
def test_plain_http_is_refused_except_on_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="https"):
        KuhuClient("k", api_url=url)


@pytest.mark.parametrize(
    "url", ["https://api.kuhuyun.com/a\tb", "https://api.kuhuyun.com/a b", "https://a\nb.com/x"]
)
def test_a_url_with_a_space_or_control_character_is_one_clear_error(url: str) -> None:
    with pytest.raises(ConfigError, match="space, tab or control character"):
        KuhuClient("k", api_url=url)


def test_spaces_around_the_url_are_dropped_and_credentials_never_shown() -> None:
    client = KuhuClient("k", api_url="  https://user:s3cret@api.kuhuyun.com/api/ai/audiosave\n")
    assert client.url.url == "https://user:s3cret@api.kuhuyun.com/api/ai/audiosave"
    assert str(client.url) == "https://***@api.kuhuyun.com/api/ai/audiosave"
    assert "s3cret" not in repr(client) and "user" not in repr(client)
    client.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/x"])
def test_plain_http_on_loopback_is_allowed(url: str) -> None:
    KuhuClient("k", api_url=url).close()


@pytest.mark.parametrize(
    ("fmt", "body", "ok"),
    [
        ("wav", b"RIFF\x00\x00\x00\x00WAVE", False),  # no data chunk
        ("mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00abc", True),
        ("mp3", b"\xff\xfb\x90\xc0" + b"\0" * 100, True),
        ("mp3", b"\x00\x01\x02\x03", False),
        ("pcm", b"\x00\x01", True),
        ("pcm", b"\x00\x01\x02", True),  # a stray byte: kept (and dropped), not bought again
        ("pcm", b"\x00", False),
        ("pcm", b"", False),
        ("pcm", b'{"code":403,"msg":"x"}', False),
        ("pcm", b"<html><body>oops</body></html>", False),
        ("pcm", "服务繁忙".encode(), False),
        ("wav", b"<!DOCTYPE html>", False),
    ],
)
def test_only_audio_of_the_asked_format_is_audio(fmt: str, body: bytes, ok: bool) -> None:
    client = mock_client(lambda r: httpx.Response(200, content=body), max_attempts=1)
    if ok:
        whole = body[: len(body) - len(body) % 2] if fmt == "pcm" else body
        assert client.synthesize("hi", format=fmt) == whole
    else:
        with pytest.raises(KuhuError):
            client.synthesize("hi", format=fmt)


def test_pcm_answer_wrapped_in_wav_is_unwrapped() -> None:
    from kuhu_driver.audio import wav_header

    tone = array.array(
        "h", (round(8000 * math.sin(2 * math.pi * 440 * i / 16000)) for i in range(1600))
    ).tobytes()  # 0.1 s of 440 Hz at 16 kHz
    wav = wav_header(16000, len(tone)) + tone
    client = mock_client(lambda r: httpx.Response(200, content=wav))
    same = client.send(build_request("hi", format="pcm", sample_rate=16000))
    assert (same.data, same.sample_rate) == (tone, 16000)
    # At another rate than asked: converted, so every piece has the rate asked.
    other = client.send(build_request("hi", format="pcm", sample_rate=22050))
    assert other.sample_rate == 22050
    assert resampling_error(other.data, tone, 16000, 22050) < 0.1


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (403, b'{"code":403,"msg":"\xe6\xb2\xa1\xe6\x9c\x89\xe6\x9d\x83\xe9\x99\x90"}', AuthError),
        (200, b'{"code":403,"msg":"no"}', AuthError),
        (400, b'{"code":400}', BadRequestError),
        (200, b'{"code":400}', BadRequestError),
        (500, b"", ServerError),
        (200, b'{"code":500}', ServerError),
        (502, b"<html>bad gateway</html>", ServerError),
        (404, b"not found", BadResponseError),
    ],
)
def test_errors_map_to_subclasses(status: int, body: bytes, error: type) -> None:
    client = mock_client(lambda r: httpx.Response(status, content=body))
    with pytest.raises(error) as info:
        client.synthesize("hi")
    assert isinstance(info.value, KuhuError)


def test_403_message_names_the_cause() -> None:
    client = mock_client(lambda r: httpx.Response(403, content=b'{"code":403}'))
    with pytest.raises(AuthError, match="key is wrong"):
        client.synthesize("hi")


def _counting(
    responses: list[httpx.Response | Exception],
) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    calls = [0]

    def handler(req: httpx.Request) -> httpx.Response:
        item = responses[min(calls[0], len(responses) - 1)]
        calls[0] += 1
        if isinstance(item, Exception):
            raise item
        return item

    return handler, calls


@pytest.mark.parametrize(
    "first",
    [
        httpx.Response(500),
        httpx.Response(200, content=b'{"code":500}'),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.Response(200, content=b"\x01"),  # not one whole sample
    ],
)
def test_retryable_failures_are_retried(first: httpx.Response | Exception) -> None:
    handler, calls = _counting([first, httpx.Response(200, content=PCM)])
    assert mock_client(handler).synthesize("hi", format="pcm") == PCM
    assert calls[0] == 2


def test_a_complete_odd_length_answer_is_kept_not_bought_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler, calls = _counting([httpx.Response(200, content=PCM + b"\x07")])
    with caplog.at_level("WARNING", logger="kuhu_driver"):
        assert mock_client(handler).synthesize("hi", format="pcm") == PCM
    assert calls[0] == 1
    assert any("odd length" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [400, 403])
def test_400_and_403_are_never_retried(status: int) -> None:
    handler, calls = _counting([httpx.Response(status), httpx.Response(200, content=PCM)])
    with pytest.raises((AuthError, BadRequestError)):
        mock_client(handler).synthesize("hi", format="pcm")
    assert calls[0] == 1


def test_at_most_three_attempts_with_backoff() -> None:
    handler, calls = _counting([httpx.Response(500)])
    client = mock_client(handler)
    client.retry.backoff_base = 0.02
    t0 = time.monotonic()
    with pytest.raises(ServerError):
        client.synthesize("hi")
    assert calls[0] == 3
    assert time.monotonic() - t0 < 0.02 * (2 + 4) + 0.5  # full jitter never exceeds the cap


def test_response_size_is_capped_while_streaming() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"\0" * 1024] * 100))  # no length announced

    client = mock_client(handler, max_response_bytes=10 * 1024)
    with pytest.raises(BadResponseError, match="goes on past 10240 bytes"):
        client.synthesize("hi", format="pcm")


def test_repr_hides_key_and_secret() -> None:
    client = KuhuClient("CANARY-KEY", api_secret="CANARY-SECRET", api_url="https://x.example/")
    assert "CANARY" not in repr(client)


def test_transport_errors_become_kuhu_errors() -> None:
    client = KuhuClient("k", api_url="http://127.0.0.1:9/x", max_attempts=1)
    with pytest.raises(TransportError, match="refused the connection"):
        client.synthesize("hi")


# -- against the emulator, over real HTTP -------------------------------------------------


def test_emulator_round_trip_gives_the_emulators_audio(kuhu_emulator: KuhuEmulator) -> None:
    with KuhuClient() as client:  # settings from KUHU_* set by the fixture
        for fmt in ("pcm", "wav", "mp3"):
            got = client.synthesize("你好，世界", voice="小婉", format=fmt)
            assert got == kuhu_emulator.render("你好，世界", voice=XIAOWAN, format=fmt)
    assert [r.outcome for r in kuhu_emulator.requests] == ["ok"] * 3
    assert all("key" not in r.params for r in kuhu_emulator.requests)


def test_signed_requests_against_the_emulator() -> None:
    with KuhuEmulator(api_secret="s3cret") as emu:
        with KuhuClient(emu.api_key, api_secret="s3cret", api_url=emu.url) as good:
            assert good.synthesize("hi", format="pcm") == emu.render("hi", voice=DEFAULT_VOICE.id)
        with (
            KuhuClient(emu.api_key, api_secret="wrong", api_url=emu.url) as bad,
            pytest.raises(AuthError),
        ):
            bad.synthesize("hi")
        with KuhuClient(emu.api_key, api_url=emu.url) as unsigned, pytest.raises(AuthError):
            unsigned.synthesize("hi")


@pytest.mark.parametrize("style", ["status", "json"])
def test_wrong_key_is_auth_error_in_both_styles(style: str) -> None:
    with KuhuEmulator(error_style=style) as emu:  # type: ignore[arg-type]
        with KuhuClient("wrong-key", api_url=emu.url) as client, pytest.raises(AuthError):
            client.synthesize("hi")
        assert len(emu.requests) == 1  # never retried


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", ServerError),
        ("reset", TransportError),
        ("json_error", ServerError),
        ("truncated", TruncatedResponseError),
        ("slow", TransportError),
    ],
)
def test_emulator_faults_are_retried_then_raised(fault: str, error: type) -> None:
    with (
        KuhuEmulator(slow_seconds=0.6) as emu,
        KuhuClient(
            emu.api_key, api_url=emu.url, backoff_base=0.01, timeout=0.3, deadline=5
        ) as client,
    ):
        emu.fail_next(fault)
        assert client.synthesize("hi", format="pcm") == emu.render("hi", voice=DEFAULT_VOICE.id)
        emu.fail_next(fault, fault, fault)
        with pytest.raises(error):
            client.synthesize("hi", format="pcm")
        assert [r.attempt for r in emu.requests] == [1, 2, 3, 4, 5]


@pytest.mark.timing
@pytest.mark.alone
def test_rate_limit_holds_for_100_requests_from_8_threads(remote_emulator: Any) -> None:
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with KuhuClient() as client:
                for j in range(i, 100, 8):
                    client.synthesize(f"第{j}句", format="pcm")
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = remote_emulator.stats()
    assert stats["requests"] == stats["ok"] == 100
    assert stats["rate_limit_breaches"] == 0
    assert stats["max_requests_in_window"] <= 20


@pytest.mark.parametrize(("header", "least"), [("0.6", 0.6), (None, 0.0)])
def test_429_waits_for_retry_after_then_succeeds(header: str | None, least: float) -> None:
    times: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        if len(times) == 1:
            headers = {"Retry-After": header} if header else {}
            return httpx.Response(429, headers=headers, text="too many requests")
        return httpx.Response(200, content=PCM, headers={"content-type": "audio/pcm"})

    client = KuhuClient(
        "k",
        api_url="https://api.example.com/api/ai/audiosave",
        transport=httpx.MockTransport(handler),
        backoff_base=0.2,
        rate_limiter=RateLimiter(1000),
    )
    with client:
        assert client.synthesize("你好", format="pcm") == PCM
    gap = times[1] - times[0]
    # Retry-After is honoured; without one, at least half the backoff (0.4 s cap here):
    # never again at once.
    assert gap >= max(least, 0.2) - 0.01, gap
    assert client.billed_chars_sent == 4  # billed once


def test_retry_after_is_bounded_at_ten_seconds() -> None:
    """A server asking for an hour is waited for 10 s (the promise), not an hour; one
    asking for less is waited for what it asked."""
    policy = RetryPolicy(timeout=5, deadline=30)
    assert policy.delay(1, RateLimitedError("429", retry_after=3600)) == 10.0
    assert policy.delay(2, RateLimitedError("429", retry_after=10.5)) == 10.0
    assert policy.delay(1, RateLimitedError("429", retry_after=2.5)) == 2.5


def test_backoff_is_full_jitter_from_a_quarter_second_doubling_to_four() -> None:
    """Attempt n waits a uniform draw from [0, min(4, 0.25 * 2**n)] s: spread over the
    whole range (so two clients that failed together do not retry together), never
    past it, and never nothing at all on average."""
    policy = RetryPolicy(timeout=5, deadline=30)
    for attempt, cap in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 4.0)):
        draws = [policy.delay(attempt, ServerError("500")) for _ in range(4000)]
        assert max(draws) <= cap and min(draws) >= 0
        assert min(draws) < cap * 0.02 and max(draws) > cap * 0.98  # the whole range
        assert abs(statistics.fmean(draws) - cap / 2) < cap * 0.03  # uniform: mean cap/2
    # A 429 without Retry-After: at least half the backoff, never again at once.
    draws = [policy.delay(1, RateLimitedError("429")) for _ in range(2000)]
    assert 0.25 <= min(draws) < 0.26 and 0.49 < max(draws) <= 0.5


def test_a_retry_waits_its_backoff() -> None:
    """The wait between attempts is the policy's delay (here made fixed), on the clock."""
    times: list[float] = []

    def handler(req: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        return httpx.Response(500)

    class Fixed(RetryPolicy):
        def delay(self, attempt: int, exc: KuhuError) -> float:
            return 0.15 * attempt

    client = mock_client(handler)
    client.retry = Fixed(timeout=5, deadline=30)
    with pytest.raises(ServerError):
        client.synthesize("hi")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 2 and gaps[0] >= 0.15 and gaps[1] >= 0.30, gaps


# -- deadlines and hostile answers, over real HTTP ---------------------------------------


def _timed(client: KuhuClient, text: str = "你好") -> tuple[float, BaseException | bytes]:
    t0 = time.monotonic()
    try:
        result: BaseException | bytes = client.synthesize(text, format="pcm")
    except KuhuError as exc:
        result = exc
    return time.monotonic() - t0, result


@pytest.mark.parametrize("fault", ["drip", "silent"])
def test_a_dripping_or_silent_server_fails_by_the_deadline(fault: str) -> None:
    # Before: a server sending 2 bytes a second held a 3 s timeout for minutes, and a
    # silent one took 3 x 30 s. Now each attempt ends at KUHU_TIMEOUT and the whole
    # request at KUHU_DEADLINE, attempts and waits included.
    with (
        KuhuEmulator() as emu,
        KuhuClient(emu.api_key, api_url=emu.url, timeout=1.0, deadline=2.5) as client,
    ):
        emu.fail_next(fault, fault, fault)
        elapsed, result = _timed(client)
        assert isinstance(result, TransportError), result
        assert "KUHU_TIMEOUT" in str(result)
        assert 1.0 <= elapsed < 2.5 + 0.3
        assert 2 <= len(emu.requests) <= 3


def test_a_slow_but_steady_answer_within_the_deadline_is_kept() -> None:
    with (
        KuhuEmulator(slow_seconds=0.4) as emu,
        KuhuClient(emu.api_key, api_url=emu.url, timeout=1.0, deadline=2.0) as client,
    ):
        emu.fail_next("slow")
        _, result = _timed(client)
        assert result == emu.render("你好", voice=DEFAULT_VOICE.id)
        assert len(emu.requests) == 1


def test_an_endless_answer_is_cut_at_what_its_text_can_make_and_not_bought_again() -> None:
    with (
        KuhuEmulator() as emu,
        KuhuClient(emu.api_key, api_url=emu.url, timeout=10.0) as client,
    ):
        emu.fail_next("endless")
        cap = build_request("你好", format="pcm").answer_cap()
        assert cap < 1024 * 1024  # 4 billed characters: well under a megabyte
        elapsed, result = _timed(client)
        assert isinstance(result, BadResponseError)
        assert f"past {cap} bytes" in str(result)
        assert elapsed < 2.0
        assert len(emu.requests) == 1  # not retried: the next answer would be the same


def test_the_answer_cap_follows_the_text_rate_and_sample_rate() -> None:
    short = build_request("好", format="pcm", sample_rate=16000).answer_cap()
    long = build_request("好" * 1000, format="pcm", sample_rate=16000).answer_cap()
    slow = build_request("好" * 1000, format="pcm", sample_rate=16000, rate=0.5).answer_cap()
    hifi = build_request("好" * 1000, format="pcm", sample_rate=48000).answer_cap()
    assert short < long < slow
    assert long < hifi
    # Never below what a real voice makes: 1000 Han characters at 3 a second, 16-bit mono.
    assert long > 1000 / 3 * 16000 * 2


@pytest.mark.timing  # a bound of 200 ms
def test_stop_ends_an_answer_being_read_at_once() -> None:
    with KuhuEmulator() as emu, KuhuClient(emu.api_key, api_url=emu.url) as client:
        emu.fail_next("drip")
        cancel = CancelToken()
        outcome: list[tuple[BaseException, float]] = []

        def run() -> None:
            try:
                client.send(build_request("你好世界", format="pcm"), cancel=cancel)
            except KuhuError as exc:
                outcome.append((exc, time.monotonic()))

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)  # the answer is dripping in
        stopped = time.monotonic()
        cancel.set()  # its callback shuts the socket of the answer being read
        t.join(5)
        assert not t.is_alive()
        ((exc, ended),) = outcome
        assert type(exc).__name__ == "StoppedError"
        assert ended - stopped < 0.2
        assert len(emu.requests) == 1


def test_429_from_the_server_waits_retry_after_then_succeeds() -> None:
    with (
        KuhuEmulator(retry_after="0.5") as emu,
        KuhuClient(emu.api_key, api_url=emu.url) as client,
    ):
        emu.fail_next("429")
        elapsed, result = _timed(client)
        assert result == emu.render("你好", voice=DEFAULT_VOICE.id)
        assert elapsed >= 0.5
        assert [r.outcome for r in emu.requests] == ["fault:429", "ok"]


def test_a_complete_odd_length_answer_over_http_is_bought_once() -> None:
    with KuhuEmulator() as emu, KuhuClient(emu.api_key, api_url=emu.url) as client:
        emu.fail_next("odd")
        _, result = _timed(client)
        assert result == emu.render("你好", voice=DEFAULT_VOICE.id)
        assert len(emu.requests) == 1


@pytest.mark.parametrize("key", ["k+/=&y", "ключ-秘密", "A%2Fb c"])
def test_the_key_is_hidden_in_every_encoding_a_server_may_echo(key: str) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        body = req.content.decode("ascii")
        # A server echoing the raw form, and the key as JSON would escape it.
        msg = f"bad request: {body} {body.lower()} key={json.dumps(key)}"
        return httpx.Response(400, json={"code": 400, "msg": msg})

    client = KuhuClient(
        key,
        api_secret="s+cr/t é",
        api_url="https://api.example.com/api/ai/audiosave",
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(BadRequestError) as info:
        client.synthesize("hi", format="pcm")
    text = str(info.value)
    assert "***" in text
    for secret in (key, "s+cr/t é"):
        for form in (
            secret,
            quote_plus(secret),
            quote_plus(secret).lower(),
            quote(secret, safe=""),
            json.dumps(secret)[1:-1],
        ):
            assert form not in text, form


def test_a_429_slows_every_request_sharing_the_limit() -> None:
    limiter = RateLimiter(18.5)
    with (
        KuhuEmulator(retry_after="0.6") as emu,
        KuhuClient(emu.api_key, api_url=emu.url, rate_limiter=limiter) as a,
        KuhuClient(emu.api_key, api_url=emu.url, rate_limiter=limiter) as b,
    ):
        emu.fail_text("甲", "429")
        t = threading.Thread(target=a.synthesize, args=("甲",), kwargs={"format": "pcm"})
        t.start()
        while not emu.requests or emu.requests[0].finished is None:
            time.sleep(0.005)
        time.sleep(0.1)
        b.synthesize("乙", format="pcm")  # another program part, same key
        t.join()
        first, *rest = emu.requests
        assert first.outcome == "fault:429" and first.finished is not None
        assert len(rest) == 2
        # Neither the retry nor the other client's request began during the pause.
        assert all(r.arrived >= first.finished + 0.6 - 0.05 for r in rest)


def test_first_errors_a_real_user_meets_say_what_to_do() -> None:
    cloned = "v3-voice-" + "0" * 32
    with KuhuEmulator(api_secret="console-secret") as emu:
        unsigned = KuhuClient(emu.api_key, api_url=emu.url, api_secret="")
        with unsigned, pytest.raises(AuthError, match="KUHU_API_SECRET is not set"):
            unsigned.synthesize("hi", format="pcm")
        wrong = KuhuClient(emu.api_key, api_url=emu.url, api_secret="not-it")
        with wrong, pytest.raises(AuthError, match=r"signing secret \(KUHU_API_SECRET\) is wrong"):
            wrong.synthesize("hi", format="pcm")
    with KuhuEmulator(known_voices={DEFAULT_VOICE.id}) as emu:
        client = KuhuClient(emu.api_key, api_url=emu.url)
        with client, pytest.raises(BadRequestError) as info:
            client.synthesize("hi", voice=cloned, format="pcm")
        text = str(info.value)
        assert "voice 不存在" in text  # the server's own message, quoted
        assert f"the voice {cloned} is not a system voice" in text
