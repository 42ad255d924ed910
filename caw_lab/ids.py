"""Identifiers and timestamps in the reference's shape: ``wf_`` + 12 of [0-9a-z]; epoch ms."""

from __future__ import annotations

import secrets
import time

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
PREFIXES = {
    "workflow": "wf_",
    "task": "tk_",
    "checkpoint": "cp_",
    "workspace": "ws_",
    "repository": "rp_",
    "template": "tmpl_",
    "agent": "ag_",
    "message": "msg_",
    "session": "ss_",
    "memory": "mem_",
    "event": "ev_",
    "dead_letter": "dl_",
    "correlation": "cr_",
    "lease": "ls_",
}


LENGTH = 12
SPACE = len(ALPHABET) ** LENGTH


def new_id(kind: str) -> str:
    """Uniform over the 36**12 ids, as twelve independent choices are, from one read of the
    system's randomness instead of twelve (a read per character was most of an id's cost:
    bench/RESULTS.md, "MCP server")."""
    n = secrets.randbelow(SPACE)
    chars = []
    for _ in range(LENGTH):
        n, digit = divmod(n, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return PREFIXES[kind] + "".join(chars)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
