"""The SSRF address policy of outbound webhooks: may Tender open a connection to this IP?

Only global addresses, unless a self-hoster sets WEBHOOK_ALLOW_PRIVATE_TARGETS (then also
loopback, private, CGNAT and ULA). Link-local (cloud metadata at 169.254.169.254),
multicast, unspecified and reserved addresses are never allowed.

An IPv6 address that carries an IPv4 address inside it is judged by that IPv4 address,
because that is where the packets end up: a NAT64 gateway, a 6to4 relay, a Teredo server
or an ISATAP router forwards them to it. So ``64:ff9b::7f00:1`` is 127.0.0.1 (refused) and
``64:ff9b::808:808`` is 8.8.8.8 (allowed). The forms recognised:

* IPv4-mapped ``::ffff:a.b.c.d`` and SIIT-translated ``::ffff:0:a.b.c.d``;
* IPv4-compatible ``::a.b.c.d`` (deprecated; ``::`` and ``::1`` are themselves);
* NAT64 well-known prefix ``64:ff9b::/96`` (RFC 6052) and local-use ``64:ff9b:1::/48``
  (RFC 8215, the IPv4 split around the reserved ``u`` octet, as RFC 6052 lays out a /48);
* 6to4 ``2002::/16`` (RFC 3056);
* Teredo ``2001::/32`` (RFC 4380: the client's obfuscated IPv4, where traffic goes);
* ISATAP interface identifiers ``…:0:5efe:a.b.c.d`` and ``…:200:5efe:a.b.c.d`` (RFC 5214).
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_ISATAP_IDS = (0x00005EFE, 0x02005EFE)  # the upper half of the interface identifier
_LOW32 = 0xFFFFFFFF


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address ``ip`` carries (and delivers to), or None."""
    value = int(ip)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _IPV4_TRANSLATED or ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(value & _LOW32)
    if ip in _NAT64_LOCAL:
        # /48 layout: IPv4 octets 1-2 in bits 48-63, bits 64-71 are "u" (zero), octets 3-4 in 72-87
        high = (value >> 64) & 0xFFFF
        low = (value >> 40) & 0xFFFF
        return ipaddress.IPv4Address((high << 16) | low)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _IPV4_COMPATIBLE and value > 1:
        return ipaddress.IPv4Address(value & _LOW32)
    if (value >> 32) & _LOW32 in _ISATAP_IDS:
        return ipaddress.IPv4Address(value & _LOW32)
    return None


def effective_address(address: str) -> IPAddress:
    """The address packets to ``address`` really reach: the embedded IPv4 if any."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        return embedded_ipv4(ip) or ip
    return ip


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Is a connection to this IP address acceptable?"""
    ip = effective_address(address)
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return False
    if ip.is_global:
        return True
    if not allow_private:
        return False
    return ip.is_loopback or ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
