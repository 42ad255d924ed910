"""Addresses as people and browsers spell them, and which of them are this machine's loopback.

DESIGN.md invariant 7. ``127.0.0.2``, ``0:0:0:0:0:0:0:1``, ``[::1]``, ``::ffff:127.0.0.1``,
``127.1`` and ``localhost`` all reach the loopback interface: every check that treats
loopback specially (whether a bind needs an explicit token, which ``Host`` and ``Origin``
headers are accepted) goes through :func:`is_loopback`, never through a list of literal
strings, or an unlisted spelling opens the door a listed one closes. Kept apart from the
HTTP transport so ``caw --server`` checks its options before importing the web stack.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from caw_lab.errors import CawError

LOOPBACK_NAMES = frozenset({"localhost"})
"""Names that resolve to loopback without asking DNS. Any other name could be rebound by whoever runs its DNS."""

LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")
"""The numeric IPv4 forms inet_aton reads (``127.1``, ``0x7f.1``, ``2130706433``), checked first:
inet_aton itself ignores anything after a space."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Beyond loopback the token must be chosen by the user, not generated: it will cross a network."""
    if not token and not is_loopback(host):
        raise CawError(
            "TOKEN_REQUIRED",
            f"Refusing to serve on {host} without a token: it is reachable from other machines",
            recoverable=True,
            suggestion="Pass --token (or set CAW_TOKEN), or bind 127.0.0.1.",
        )


def ip_of(host: str) -> Address | None:
    """The address ``host`` spells (brackets, an IPv6 zone and a trailing dot allowed), or None for a name."""
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0] if ":" in text else text)
    except ValueError:
        pass
    if LEGACY_IPV4.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, an address in any spelling, bracketed or not) is this machine's loopback."""
    if host.strip().lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    ip = ip_of(host)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip is not None and ip.is_loopback


def same_host(a: str, b: str) -> bool:
    """Whether two spellings name the same host: equal addresses, or equal names ignoring case."""
    ip_a, ip_b = ip_of(a), ip_of(b)
    if ip_a is not None or ip_b is not None:
        return ip_a == ip_b
    return a.strip().lower().rstrip(".") == b.strip().lower().rstrip(".")


def url_of(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def split_host_port(authority: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` as a Host header or URL carries it (IPv6 in brackets), or None when malformed."""
    try:
        parts = urlsplit(f"//{authority}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host or parts.username is not None or parts.path or parts.query or parts.fragment:
        return None
    return host, default_port if port is None else port
