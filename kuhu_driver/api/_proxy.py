"""Which HTTP proxy, if any, carries the connection to the API.

Corporate networks often allow the web only through a proxy. ``KUHU_PROXY`` names one
(``http://host:port``, with ``user:password@`` if it asks), or ``none`` for a direct
connection; unset, the system's proxy is used: ``HTTPS_PROXY``/``NO_PROXY`` on every
platform, and on Windows and macOS the proxy set in the system's settings (Python's
``urllib.request.getproxies``). The request goes through the proxy as ``CONNECT``
and TLS inside it, so the proxy sees the host name and port, never the key or the
text. A plain ``http://`` endpoint (loopback only: see ``check_url``) never uses a
proxy.
"""

from __future__ import annotations

import logging
import os
import sys
from urllib.parse import urlsplit

from .._config import DIRECT, Proxy, parse_proxy
from ..errors import ConfigError

logger = logging.getLogger(__name__)

_warned: set[str] = set()


def proxy_for(endpoint: str, setting: str | None) -> Proxy | None:
    """The proxy for connections to ``endpoint``: ``setting`` (``KUHU_PROXY``: a URL,
    or one of :data:`DIRECT`), else the system's; None for a direct connection."""
    parts = urlsplit(endpoint)
    if parts.scheme != "https":
        return None
    if setting:
        return None if setting.strip().lower() in DIRECT else parse_proxy(setting)
    if not _may_have_system_proxy():
        return None
    import urllib.request  # 10-20 ms of imports: only when there may be a proxy

    system = urllib.request.getproxies()
    value = system.get("https") or system.get("all")
    host = parts.hostname or ""
    if not value or urllib.request.proxy_bypass(host):
        return None
    if "://" not in value:
        value = f"http://{value}"  # Windows' registry gives host:port
    try:
        return parse_proxy(value, origin="the system's proxy")
    except ConfigError as exc:
        if value not in _warned:
            _warned.add(value)
            logger.warning("%s; connecting directly (set KUHU_PROXY to choose)", exc)
        return None


def _may_have_system_proxy() -> bool:
    """Whether the system may name a proxy: on Windows and macOS always (their settings);
    elsewhere only through ``*_proxy`` variables."""
    if sys.platform in ("win32", "darwin"):
        return True
    return any(name.lower() in ("https_proxy", "all_proxy") for name in os.environ)
