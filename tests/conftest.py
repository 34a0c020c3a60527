"""Shared fixtures. The ``kuhu_emulator`` fixture comes from kuhu_driver's pytest plugin."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=40, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's key, endpoint or cache."""
    for name in list(os.environ):
        if name.startswith("KUHU_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KUHU_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
