"""The one door for outbound webhook HTTP (the only module here that imports ``requests``).

* SSRF guard: the host is resolved once, every address it resolves to must be global
  (or, with ``WEBHOOK_ALLOW_PRIVATE_TARGETS``, loopback/private/CGNAT/ULA), and the
  connection goes to the checked address (requests-hardened's adapter pins the connection
  pool to it and keeps the original Host header and TLS SNI). Link-local (169.254/16 incl.
  the cloud metadata address), multicast, unspecified and reserved addresses are refused
  always. Non-canonical numeric hosts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are
  refused before any lookup.
* Limits: 2 s connect, 10 s for the whole attempt, redirects never followed, response body
  read up to 8 KiB, ``User-Agent: Tender-Webhooks/1.0``.
* Failures are classified (``error_class``) for the attempt log and the retry decision.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests  # noqa: TID251 - this is the transport module
from django.conf import settings
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter_adapter import IPFilterAdapter

USER_AGENT = "Tender-Webhooks/1.0"
_NUMERIC_PART = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class UnsafeUrl(Exception):
    """A URL we refuse to call; ``reason`` is a stable machine-readable cause."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


def _normalise(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return ip


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Is a connection to this IP address acceptable?"""
    ip = _normalise(ipaddress.ip_address(address.split("%", 1)[0]))
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if ip.is_global:
        return True
    if not allow_private:
        return False
    return ip.is_loopback or ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)


def host_check_literal(host: str) -> None:
    """Refuse numeric hosts that are not a canonical dotted quad (decimal, hex, octal or
    shortened forms resolve to surprising addresses through inet_aton)."""
    parts = host.split(".")
    if all(_NUMERIC_PART.match(p) for p in parts if p) and host.strip("."):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise UnsafeUrl("non_canonical_ip", f"numeric host {host!r} is not a canonical IPv4 address") from None


def resolve_checked(host: str, port: int, *, allow_private: bool) -> str:
    """Resolve ``host`` once and return the address to connect to; raise UnsafeUrl if any
    address it resolves to is refused (so DNS answers cannot mix in a private address)."""
    host_check_literal(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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


class _CheckedAdapter(IPFilterAdapter):
    """requests-hardened's adapter with our address policy: resolve once, check every
    address, pin the pool to the checked one (Host header and SNI keep the name)."""

    def __init__(self, *, is_https_proto: bool, allow_private: bool) -> None:
        super().__init__(is_https_proto=is_https_proto, allow_loopback=allow_private, tls_sni_support=True)
        self._allow_private = allow_private

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
        address = resolve_checked(original_host.strip("[]"), port or default_port, allow_private=self._allow_private)
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


def post(*, url: str, body: bytes, headers: dict[str, str]) -> TransportResult:
    """POST ``body`` to ``url``; never raises for network or HTTP failures."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_TARGETS
    limit = settings.WEBHOOK_RESPONSE_BODY_LIMIT
    total = settings.WEBHOOK_TOTAL_TIMEOUT
    started = time.monotonic()
    deadline = started + total

    def result(**kwargs) -> TransportResult:
        defaults = {"status_code": None, "body": "", "error": "", "retry_after_seconds": None, "gone": False}
        defaults.update(kwargs)
        return TransportResult(latency_ms=int((time.monotonic() - started) * 1000), **defaults)

    try:
        response = _session(allow_private).post(
            url,
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, total),
            allow_redirects=False,
            stream=True,
        )
    except UnsafeUrl as exc:
        return result(ok=False, error_class=exc.reason, error=exc.description)
    except requests.exceptions.ConnectTimeout as exc:
        return result(ok=False, error_class="connect_timeout", error=str(exc)[:512])
    except requests.exceptions.Timeout as exc:
        return result(ok=False, error_class="timeout", error=str(exc)[:512])
    except requests.exceptions.SSLError as exc:
        return result(ok=False, error_class="tls_error", error=str(exc)[:512])
    except requests.exceptions.ConnectionError as exc:
        return result(ok=False, error_class="connection_error", error=str(exc)[:512])
    except requests.exceptions.RequestException as exc:
        return result(ok=False, error_class="request_error", error=str(exc)[:512])

    chunks: list[bytes] = []
    size = 0
    error_class = ""
    try:
        for chunk in response.iter_content(4096):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            if time.monotonic() > deadline:
                error_class = "timeout"
                break
    except requests.exceptions.RequestException as exc:
        error_class = "timeout" if "timed out" in str(exc).lower() else "connection_error"
    finally:
        if size > limit or error_class:
            response.close()  # drop a connection we did not read to the end
    text = b"".join(chunks)[:limit].decode("utf-8", errors="replace")
    status = response.status_code
    ok = 200 <= status < 300 and not error_class
    return result(
        ok=ok,
        status_code=status,
        body=text,
        error_class=error_class or ("" if ok else "http_status"),
        error="" if ok else (f"HTTP {status}" if not error_class else "response body not received in time"),
        retry_after_seconds=_retry_after(response.headers.get("Retry-After")),
        gone=status == 410,
    )
