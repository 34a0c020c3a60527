"""A Speech Dispatcher output module (``sd_kuhu``): screen readers on Linux (Orca) and
their scripts (``spd-say``, Python's ``speechd``) speak with the kuhuyun voices through
the same pipeline as everything else. ``kuhu-say --install-speechd`` installs it for a
user (``_install``); the protocol is in ``_wire``, the commands in ``_module``, a message
spoken in ``_speaker``, the settings' meaning in ``_settings``.

Layer: the top, beside ``driver`` and ``cli``; uses ``pipeline`` and the leaves.
"""

from __future__ import annotations

from ._install import install_module, uninstall_module
from ._module import Module, main

__all__ = ["Module", "install_module", "main", "uninstall_module"]
