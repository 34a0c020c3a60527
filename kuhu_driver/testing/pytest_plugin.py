"""The ``kuhu_emulator`` pytest fixture, registered through the ``pytest11`` entry point."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from ._emulator import KuhuEmulator


@pytest.fixture
def kuhu_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[KuhuEmulator]:
    """A running :class:`KuhuEmulator`, with ``KUHU_*`` pointed at it for this test.

    The on-disk cache is off (``KUHU_CACHE=off``) so that every request reaches it. At
    the end, the default session of ``speak()``/``stream()``/``save()`` is closed (if one
    was made), so that the next test starts without its connection or device.
    """
    with KuhuEmulator() as emu:
        for name, value in emu.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("KUHU_API_SECRET", raising=False)
        monkeypatch.setenv("KUHU_CACHE", "off")
        yield emu
        session = sys.modules.get("kuhu_driver.pipeline._session")
        if session is not None:
            session.close_default()
