"""The one door for outbound webhook HTTP (the only module here that imports ``requests``).

* SSRF guard: the host is resolved once, every address it resolves to must be global
  (or, with ``WEBHOOK_ALLOW_PRIVATE_TARGETS``, loopback/private/CGNAT/ULA), and the
  connection goes to the checked address (requests-hardened's adapter pins the connection
  pool to it and keeps the original Host header and TLS SNI). Link-local (169.254/16 incl.
  the cloud metadata address), multicast, unspecified and reserved addresses are refused
  always. Non-canonical numeric hosts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are
  refused before any lookup. The address policy itself, including IPv6 forms that embed
  an IPv4 address (NAT64, 6to4, Teredo, ...), judged by that IPv4, is ``webhooks.ssrf``.
* Limits: 2 s for the DNS lookup (``WEBHOOK_DNS_TIMEOUT``: a lookup runs in a small resolver
  pool and is abandoned, not waited for, when it takes longer, so a merchant's slow name
  server cannot hold a delivery thread), 2 s connect, and a wall-clock deadline for the
  whole attempt (10 s: connect, send, status line, headers and body together) that holds however slowly bytes arrive: a
  watchdog thread shuts down the attempt's socket when it passes (socket timeouts alone
  bound each read, not their sum). Redirects are never followed; the response body is read
  up to 1 MiB (more is ``response_too_large``) and stored up to 8 KiB;
  ``User-Agent: Tender-Webhooks/1.0``.
* Failures are classified (``error_class``) for the attempt log and the retry decision.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests  # noqa: TID251 - this is the transport module
from django.conf import settings
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter_adapter import IPFilterAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from common.deadlines import SocketDeadline, socket_deadline, socket_deadline_current, socket_watch
from webhooks.ssrf import address_allowed

USER_AGENT = "Tender-Webhooks/1.0"
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class UnsafeUrl(Exception):
    """A URL we refuse to call; ``reason`` is a stable machine-readable cause."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


def host_check_literal(host: str) -> None:
    """Refuse numeric hosts that are not a canonical dotted quad (decimal, hex, octal or
    shortened forms resolve to surprising addresses through inet_aton)."""
    parts = host.split(".")
    if all(_NUMERIC_PART.match(p) for p in parts if p) and host.strip("."):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeUrl("non_canonical_ip", f"numeric host {host!r} is not a canonical IPv4 address") from None


class ResolveTimeout(UnsafeUrl):
    """The name server did not answer in time. Refused like any host we cannot check (at
    registration a 400 ``dns_timeout``), but for an attempt a transient failure, retried
    like a timeout."""

    def __init__(self, description: str) -> None:
        super().__init__("dns_timeout", description)


# getaddrinfo cannot be interrupted, so lookups run here and a caller stops waiting at its
# deadline; an abandoned lookup ends by the system resolver's own timeout. Bounded: a flood
# of hanging lookups queues here (and times out) instead of spawning threads.
_RESOLVER_THREADS = 8
_resolver_lock = threading.Lock()
_resolver: tuple[int, ThreadPoolExecutor] | None = None


def _resolver_get() -> ThreadPoolExecutor:
    """The process's resolver pool (a forked worker child starts its own: threads do not fork)."""
    global _resolver
    with _resolver_lock:
        if _resolver is None or _resolver[0] != os.getpid():
            _resolver = (os.getpid(), ThreadPoolExecutor(max_workers=_RESOLVER_THREADS, thread_name_prefix="dns"))
        return _resolver[1]


def _getaddrinfo(host: str, port: int, timeout: float) -> list:
    lookup = _resolver_get().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout=timeout)
    except FutureTimeout:
        raise ResolveTimeout(f"host {host!r} did not resolve within {timeout:.1f} s") from None


def resolve_checked(host: str, port: int, *, allow_private: bool, timeout: float | None = None) -> str:
    """Resolve ``host`` once, within ``timeout`` seconds (default ``WEBHOOK_DNS_TIMEOUT``), and
    return the address to connect to; raise UnsafeUrl if any address it resolves to is refused
    (so DNS answers cannot mix in a private address), ResolveTimeout if no answer came in time."""
    host_check_literal(host)
    if timeout is None:
        timeout = settings.WEBHOOK_DNS_TIMEOUT
    try:
        infos = _getaddrinfo(host, port, max(0.001, timeout))
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrl("unresolvable_host", f"host {host!r} does not resolve") from exc
    addresses = [info[4][0] for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]
    if not addresses:
        raise UnsafeUrl("unresolvable_host", f"host {host!r} has no IPv4/IPv6 address")
    for address in addresses:
        if not address_allowed(address, allow_private=allow_private):
            raise UnsafeUrl("forbidden_address", f"host {host!r} resolves to a non-public address ({address})")
    return addresses[0]


def url_validate(url: str, *, allow_private: bool | None = None) -> str:
    """Check an endpoint URL at registration; return it stripped. Raises UnsafeUrl."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    url = (url or "").strip()
    if len(url) > 2048:
        raise UnsafeUrl("invalid_url", "url must be at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl("invalid_url", f"url is not valid: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("unsupported_scheme", "url must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeUrl("invalid_url", "url has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials_in_url", "url must not contain credentials")
    resolve_checked(parts.hostname, port or (443 if parts.scheme == "https" else 80), allow_private=allow_private)
    return url


class _WatchedConnection:
    """Registers the socket of every new connection (right after TCP connect, before TLS)
    and of every reused one (before a request is written) with the current attempt."""

    def _new_conn(self):
        sock = super()._new_conn()
        socket_watch(sock)
        return sock

    def request(self, *args, **kwargs):
        socket_watch(self.sock)
        return super().request(*args, **kwargs)


class _HTTPConnection(_WatchedConnection, HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _CheckedAdapter(IPFilterAdapter):
    """requests-hardened's adapter with our address policy: resolve once, check every
    address, pin the pool to the checked one (Host header and SNI keep the name)."""

    def __init__(self, *, is_https_proto: bool, allow_private: bool) -> None:
        super().__init__(is_https_proto=is_https_proto, allow_loopback=allow_private, tls_sni_support=True)
        self._allow_private = allow_private

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super(IPFilterAdapter, self).build_connection_pool_key_attributes(
            request, verify, cert
        )
        request.headers = dict(**request.headers) if request.headers else {}
        original_host = host_params["host"]
        port = host_params["port"]
        default_port = 443 if self._is_https_proto else 80
        request.headers["Host"] = original_host if port in (None, default_port) else f"{original_host}:{port}"
        if self._is_https_proto:
            pool_kwargs["assert_hostname"] = original_host
            pool_kwargs["server_hostname"] = original_host
        deadline = socket_deadline_current()
        timeout = settings.WEBHOOK_DNS_TIMEOUT
        if deadline is not None:
            timeout = min(timeout, deadline.at - time.monotonic())
        address = resolve_checked(
            original_host.strip("[]"), port or default_port, allow_private=self._allow_private, timeout=timeout
        )
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs


_local = threading.local()


def _session(allow_private: bool) -> requests.Session:
    """One keep-alive session per thread and policy (connections pooled per checked IP)."""
    cache = getattr(_local, "sessions", None)
    if cache is None:
        cache = _local.sessions = {}
    session = cache.get(allow_private)
    if session is None:
        config = Config(
            ip_filter_enable=False,  # our adapter is mounted below
            ip_filter_allow_loopback_ips=allow_private,
            never_redirect=True,
            default_timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_TOTAL_TIMEOUT),
            user_agent_override=USER_AGENT,
        )
        session = HTTPSession(config)
        session.trust_env = False  # no proxies from the environment: we connect to the checked IP
        session.mount("http://", _CheckedAdapter(is_https_proto=False, allow_private=allow_private))
        session.mount("https://", _CheckedAdapter(is_https_proto=True, allow_private=allow_private))
        cache[allow_private] = session
    return session


@dataclass(frozen=True)
class TransportResult:
    ok: bool
    status_code: int | None
    latency_ms: int
    body: str
    error_class: str  # "" when ok
    error: str
    retry_after_seconds: int | None
    gone: bool


def _retry_after(value: str | None) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0, int(when.timestamp() - time.time()))


def post(*, url: str, body: bytes, headers: dict[str, str], deadline: float | None = None) -> TransportResult:
    """POST ``body`` to ``url``; never raises for network or HTTP failures. The attempt ends
    by ``deadline`` (``time.monotonic()``; at most now + WEBHOOK_TOTAL_TIMEOUT) whatever the
    server does: the watchdog shuts its socket down when it passes."""
    started = time.monotonic()
    at = started + settings.WEBHOOK_TOTAL_TIMEOUT
    if deadline is not None:
        at = min(at, deadline)
    if at <= started:
        return TransportResult(False, None, 0, "", "timeout", "no time left for an attempt", None, False)
    with socket_deadline(at) as watched:
        outcome = _post_watched(url=url, body=body, headers=headers, watched=watched)
    status_code, body_text, error_class, error, response_headers = outcome
    if watched.expired:
        # Whatever broke, it broke because we cut it; and a response we cut is never a
        # success, even where the cut looked like a clean end (EOF ends headers or an
        # unframed body for http.client).
        error_class, error = "timeout", f"response not complete within {at - started:.1f} s (attempt deadline)"
    ok = not error_class and status_code is not None and 200 <= status_code < 300
    if not ok and not error_class:
        error_class, error = "http_status", f"HTTP {status_code}"
    return TransportResult(
        ok=ok,
        status_code=status_code,
        latency_ms=int((time.monotonic() - started) * 1000),
        body=body_text,
        error_class=error_class,
        error=error[:512],
        retry_after_seconds=_retry_after(response_headers.get("Retry-After")),
        gone=status_code == 410,
    )


def _post_watched(
    *, url: str, body: bytes, headers: dict[str, str], watched: SocketDeadline
) -> tuple[int | None, str, str, str, Mapping[str, str]]:
    """The request itself: (status, stored body, error class, error, response headers)."""
    store_limit = settings.WEBHOOK_RESPONSE_BODY_LIMIT
    read_limit = max(settings.WEBHOOK_RESPONSE_READ_LIMIT, store_limit)
    # Socket timeouts still bound each operation (a dead connect fails in 2 s); the
    # watchdog bounds their sum.
    timeout = (settings.WEBHOOK_CONNECT_TIMEOUT, max(0.001, watched.at - time.monotonic()))
    try:
        response = _session(settings.WEBHOOK_ALLOW_PRIVATE_TARGETS).post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
    except ResolveTimeout as exc:  # before UnsafeUrl, its base: a slow name server is retried
        return None, "", "timeout", exc.description, {}
    except UnsafeUrl as exc:
        return None, "", exc.reason, exc.description, {}
    except requests.exceptions.RequestException as exc:
        return None, "", _error_class(exc), str(exc), {}
    chunks: list[bytes] = []
    size = 0
    error_class = error = ""
    try:
        for chunk in response.iter_content(16384):
            if size < store_limit:
                chunks.append(chunk)
            size += len(chunk)
            if size > read_limit:
                error_class, error = "response_too_large", f"response body larger than {read_limit} bytes"
                break
    except requests.exceptions.RequestException as exc:
        error_class, error = _error_class(exc), str(exc)
    finally:
        if error_class:
            response.close()  # drop a connection we did not read to the end
    return response.status_code, _text(chunks, store_limit), error_class, error, response.headers


def _text(chunks: list[bytes], limit: int) -> str:
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")


def _error_class(exc: requests.exceptions.RequestException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in str(exc).lower():
        return "timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls_error"
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return "connection_error"
    return "request_error"
