"""Who may reach the server: loopback freely, anywhere else only with a bearer token.

DESIGN.md invariant 7. Kept apart from the HTTP transport so ``caw --server`` can check
its options before importing the web stack, and a stdio server never imports it.
"""

from __future__ import annotations

import ipaddress

from caw_lab.errors import CawError


def require_token_off_loopback(host: str, token: str | None) -> None:
    if not token and not is_loopback(host):
        raise CawError(
            "TOKEN_REQUIRED",
            f"Refusing to serve on {host} without a token: it is reachable from other machines",
            recoverable=True,
            suggestion="Pass --token (or set CAW_TOKEN), or bind 127.0.0.1.",
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
