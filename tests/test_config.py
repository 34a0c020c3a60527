from __future__ import annotations

from pathlib import Path

import pytest

from kuhu_driver.config import DEFAULT_API_URL, resolve_settings
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
