"""One attempt on the wire: send the form, read the whole answer within a time limit,
and turn every httpx failure into one of ours (``map_transport_errors``, the only place
that knows httpx's exception types).

A :class:`Guard` ends an attempt early, at its deadline or when its job is stopped:
shutting the socket down wakes a read blocked in another thread (closing it would not),
so a server that drips bytes or stalls mid-answer cannot hold the attempt past its
deadline, nor a stopped job past its ``stop()``.
"""

from __future__ import annotations

import contextlib
import enum
import io
import re
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .._cancel import CancelToken
from ..errors import (
    BadResponseError,
    StoppedError,
    TLSError,
    TransportError,
    TruncatedResponseError,
)
from ._answer import RawAnswer, retry_after_seconds
from ._netguard import watching
from ._request import Endpoint

if TYPE_CHECKING:
    import socket
    import ssl

    import httpx

#: How the platforms word a failed name lookup (Linux, macOS, Windows).
_DNS_FAILURE = (
    r"name or service not known|temporary failure in name resolution|nodename nor servname"
    r"|getaddrinfo failed|no address associated|name resolution"
)


class Cut(enum.Enum):
    """Why a guard ended an attempt."""

    DEADLINE = "the attempt's time ran out"
    STOPPED = "stopped"
    CLOSED = "the client was closed"


class Guard:
    """Ends one attempt's answer early; see the module docstring."""

    def __init__(self) -> None:
        self.reason: Cut | None = None
        #: Set when the guard fires (a request waiting for its connection stops waiting).
        self.fired = CancelToken()
        self._sock: socket.socket | None = None
        self._done = False
        self._lock = threading.Lock()

    def attach(self, resp: httpx.Response) -> None:
        """The answer's socket (for transports whose sockets were not watched)."""
        stream = resp.extensions.get("network_stream")
        self.watch(stream.get_extra_info("socket") if stream is not None else None)

    def watch(self, sock: object) -> None:
        """The socket this attempt uses now (called as it connects, writes and reads)."""
        import socket

        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self._done or self._sock is sock:
                return
            self._sock = sock
            fired = self.reason is not None
        if fired:
            self._shut()

    def done(self) -> None:
        """The attempt is over: its connection may serve another one now, untouched."""
        with self._lock:
            self._done = True
            self._sock = None

    def fire(self, reason: Cut) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
        self._shut()
        self.fired.set()

    def _shut(self) -> None:
        import socket

        with self._lock:  # held, so that done() cannot hand the socket on meanwhile
            if self._sock is not None:
                with contextlib.suppress(OSError):  # already closed: nothing to wake
                    self._sock.shutdown(socket.SHUT_RDWR)
                if sys.platform == "win32":
                    # shutdown() is not known to wake a blocked recv there: close it too.
                    with contextlib.suppress(OSError):
                        self._sock.close()

    def raise_if_fired(self, limit: float, exc: BaseException | None = None) -> None:
        """The error for an answer that this guard ended (deadline or stop), if it did."""
        if self.reason is None:
            return
        if self.reason is not Cut.DEADLINE:
            raise StoppedError(f"{self.reason.value} while the answer was arriving") from exc
        raise TransportError(
            f"the answer did not arrive whole in the {limit:.3g} s this attempt had "
            "(KUHU_TIMEOUT per attempt, KUHU_DEADLINE in all): the server is too slow or "
            "stalled"
        ) from exc


#: Certificates a test trusts besides the roots (see ``trust_also``).
_also_trusted: list[str] = []


def trust_also(cafile: str) -> None:
    """Trust ``cafile`` too, in this process: for tests of HTTPS against the emulator
    (its certificate is self-signed). Code only, never a setting: see ``tls_context``."""
    _also_trusted.append(cafile)


#: Where Linux distributions keep the system's roots (Debian and Ubuntu, Fedora and RHEL,
#: openSUSE, Alpine and Arch): read from these fixed paths, never from the environment.
DISTRO_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def os_trust_store() -> bool:
    """Whether certificates are verified by the operating system (Windows, macOS)."""
    return sys.platform in ("win32", "darwin")


def tls_context() -> ssl.SSLContext:
    """Certificate and host name checks on, always.

    On Windows and macOS the operating system verifies (``truststore``), as browsers
    there do: a corporate or antivirus root installed in the system's store is trusted,
    and certifi's roots beside it. On Linux: the distribution's bundle (Mozilla's roots,
    as certifi's, with what the machine's administrator added), at its fixed path and
    only if root owns it and no one else may write it; else certifi's roots. Plus what
    a test's code added with ``trust_also``.

    Never from the environment: variables such as SSL_CERT_FILE must not be able to
    make an endpoint trusted that would otherwise be refused (Windows and macOS read no
    such variable: their stores are the system's).
    """
    import ssl

    import certifi

    if os_trust_store():
        import truststore

        ctx: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=certifi.where())
    else:  # the distribution's bundle is Mozilla's roots too, and the machine's own
        ctx = ssl.create_default_context(cafile=_distro_bundle() or certifi.where())
    for cafile in _also_trusted:
        ctx.load_verify_locations(cafile=cafile)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _distro_bundle() -> str | None:
    """The first of :data:`DISTRO_BUNDLES` that root owns and only root may write."""
    import stat
    from pathlib import Path

    for path in DISTRO_BUNDLES:
        try:
            st = Path(path).stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022:
            return path
    return None


class _Progress:
    """Whether the answer's headers have arrived (a drop after them truncates audio)."""

    got_headers = False


@contextlib.contextmanager
def map_transport_errors(
    guard: Guard, limit: float, url: Endpoint, progress: _Progress, via: str | None = None
) -> Iterator[None]:
    """Turn httpx's failures into ours; a guard that fired explains any of them.
    ``via``: the proxy the connection goes through (``host:port``), named in errors."""
    import httpx

    try:
        yield
    except httpx.ProxyError as exc:
        guard.raise_if_fired(limit, exc)
        raise _unreachable(
            TransportError(
                f"the proxy {via} did not open a connection to {url.host} ({exc}): check "
                "KUHU_PROXY, or the system's proxy settings"
            )
        ) from exc
    except httpx.ConnectTimeout as exc:
        guard.raise_if_fired(limit, exc)
        raise _unreachable(
            TransportError(f"could not connect to {url.host} within {min(5.0, limit):g} s")
        ) from exc
    except httpx.TimeoutException as exc:
        guard.raise_if_fired(limit, exc)
        raise TransportError(
            f"the API did not answer within {limit:g} s ({type(exc).__name__}); the "
            "network or the service is slow (KUHU_TIMEOUT)"
        ) from exc
    except httpx.ConnectError as exc:
        guard.raise_if_fired(limit, exc)
        raise _connect_error(exc, url, via) from exc
    except httpx.RemoteProtocolError as exc:
        guard.raise_if_fired(limit, exc)
        if progress.got_headers:
            raise TruncatedResponseError(
                "the connection closed before the whole answer arrived"
            ) from exc
        raise TransportError("the connection closed before an answer arrived") from exc
    except httpx.TransportError as exc:
        guard.raise_if_fired(limit, exc)
        raise TransportError(
            f"the connection failed ({type(exc).__name__}): it was reset or dropped"
        ) from exc


def _unreachable(exc: TransportError) -> TransportError:
    exc.unreachable = True
    return exc


def _connect_error(exc: Exception, url: Endpoint, via: str | None) -> TransportError:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in type(exc.__context__).__name__:
        return TLSError(
            f"the TLS certificate of {url.host} could not be verified, so "
            "nothing was sent: this computer's clock may be wrong, a proxy or "
            "antivirus may intercept HTTPS, or the endpoint is not who it claims "
            "to be (certificate checks cannot be turned off)"
        )
    why = str(exc)
    if via is not None:
        return _unreachable(
            TransportError(
                f"could not connect to the proxy {via} ({why or type(exc).__name__}): check "
                "KUHU_PROXY, or the system's proxy settings"
            )
        )
    if re.search(_DNS_FAILURE, why, re.IGNORECASE):
        return _unreachable(
            TransportError(
                f"could not look up {url.host} (DNS): check the network connection, "
                "or the host name in KUHU_API_URL"
            )
        )
    if "refused" in why.lower():
        return _unreachable(
            TransportError(
                f"{url.host} refused the connection: nothing listens at {url} (check KUHU_API_URL)"
            )
        )
    return _unreachable(
        TransportError(f"could not connect to {url.host}: check the network or KUHU_API_URL")
    )


def post(
    http: httpx.Client,
    url: Endpoint,
    body: bytes,
    headers: dict[str, str],
    *,
    limit: float,
    cap: int,
    billed: int,
    guard: Guard,
    via: str | None = None,
) -> RawAnswer:
    """POST ``body`` and read the whole answer, at most ``cap`` bytes, within ``limit``
    seconds (the caller's timer fires ``guard``, which also covers connecting and the
    headers: see ``_netguard``)."""
    progress = _Progress()
    auth = url.basic_auth
    if auth is not None:
        headers = {**headers, "Authorization": auth}
    import httpx

    with (
        watching(guard),  # outermost: the guard lets the socket go once all is closed
        map_transport_errors(guard, limit, url, progress, via),
        http.stream(
            "POST",
            url.bare,
            content=body,
            headers=headers,
            timeout=httpx.Timeout(connect=min(5.0, limit), read=limit, write=limit, pool=limit),
        ) as resp,
    ):
        progress.got_headers = True
        guard.attach(resp)
        return RawAnswer(
            status=resp.status_code,
            content_type=resp.headers.get("content-type", ""),
            retry_after=retry_after_seconds(resp.headers.get("retry-after")),
            data=_read_body(resp, cap, billed, guard, limit),
        )


def _read_body(resp: httpx.Response, cap: int, billed: int, guard: Guard, limit: float) -> bytes:
    """The whole body. A guard that fires before it ends cuts it (and explains why); one
    that fires after the last byte does not: an answer read whole is kept."""
    length = resp.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise BadResponseError(
            f"the answer announces {int(length)} bytes, more than {cap} "
            f"that {billed} billed characters can make: not audio we will play"
        )
    # Gathered in a BytesIO, whose value is handed over without a copy: a list of chunks
    # joined at the end held each answer twice at its peak (7 MB pieces, side by side).
    body = io.BytesIO()
    size = 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > cap:
            raise BadResponseError(
                f"the answer goes on past {cap} bytes, more than "
                f"{billed} billed characters can make: not audio we will play"
            )
        guard.raise_if_fired(limit)  # the deadline or a stop came while bytes still flowed
        body.write(chunk)
    return body.getvalue()
