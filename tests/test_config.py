from __future__ import annotations

from pathlib import Path

import pytest

from kuhu_driver._config import DEFAULT_API_URL, resolve_settings
from kuhu_driver.errors import ConfigError


def test_explicit_beats_environment_beats_default() -> None:
    env = {"KUHU_API_KEY": "env-key", "KUHU_API_URL": "https://env.example/api"}
    s = resolve_settings(env=env)
    assert (s.api_key, s.api_url) == ("env-key", "https://env.example/api")
    s = resolve_settings(api_key="arg-key", api_url="https://arg.example", env=env)
    assert (s.api_key, s.api_url) == ("arg-key", "https://arg.example")
    s = resolve_settings(env={"KUHU_API_KEY": "k"})
    assert s.api_url == DEFAULT_API_URL
    assert s.api_secret is None


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="KUHU_API_KEY"):
        resolve_settings(env={})


def test_secrets_stay_out_of_repr() -> None:
    s = resolve_settings(api_key="CANARY-KEY", api_secret="CANARY-SECRET", env={})
    assert "CANARY" not in repr(s)


def test_cache_settings(tmp_path: Path) -> None:
    assert resolve_settings(env={"KUHU_API_KEY": "k", "KUHU_CACHE": "off"}).cache_dir is None
    s = resolve_settings(env={"KUHU_API_KEY": "k", "KUHU_CACHE_DIR": str(tmp_path)})
    assert s.cache_dir == tmp_path
    assert s.cache_max_bytes == 200 * 1024 * 1024
    s = resolve_settings(env={"KUHU_API_KEY": "k", "KUHU_CACHE_MAX_MB": "1"})
    assert s.cache_max_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KUHU_TIMEOUT", "0"),
        ("KUHU_TIMEOUT", "-3"),
        ("KUHU_TIMEOUT", "soon"),
        ("KUHU_TIMEOUT", "inf"),
        ("KUHU_TIMEOUT", "nan"),
        ("KUHU_DEADLINE", "0"),
        ("KUHU_DEADLINE", "later"),
        ("KUHU_MAX_BILLED", "-1"),
        ("KUHU_MAX_BILLED", "1.5"),
        ("KUHU_MAX_BILLED", "lots"),
        ("KUHU_CACHE_MAX_MB", "-1"),
        ("KUHU_CACHE_MAX_MB", "big"),
        ("KUHU_CACHE_MAX_MB", "inf"),
        ("KUHU_CACHE_MAX_MB", "nan"),
        ("KUHU_FALLBACK", "sometimes"),
        ("KUHU_AUDIO", "pulseaudio"),
        ("KUHU_CACHE", "maybe"),
        ("KUHU_CACHE", "onn"),
    ],
)
def test_every_bad_setting_is_a_config_error_naming_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as info:
        resolve_settings(env={"KUHU_API_KEY": "k", name: value})
    assert value in str(info.value)  # what was wrong, so the user can find it


@pytest.mark.parametrize(
    ("value", "on"),
    [("on", True), ("1", True), ("Yes", True), ("", True), ("off", False), ("0", False)],
)
def test_the_cache_switch_takes_on_and_off_words(value: str, on: bool) -> None:
    s = resolve_settings(env={"KUHU_API_KEY": "k", "KUHU_CACHE": value})
    assert (s.cache_dir is not None) is on


def test_good_values_of_every_setting_are_taken() -> None:
    s = resolve_settings(
        env={
            "KUHU_API_KEY": "k",
            "KUHU_TIMEOUT": "2.5",
            "KUHU_DEADLINE": "9",
            "KUHU_MAX_BILLED": "500",
            "KUHU_CACHE_MAX_MB": "0",
            "KUHU_FALLBACK": " Always ",
            "KUHU_AUDIO": "SIMPLEAUDIO",
        }
    )
    assert (s.timeout, s.deadline, s.max_billed, s.cache_max_bytes) == (2.5, 9.0, 500, 0)
    assert (s.fallback, s.audio) == ("always", "simpleaudio")
