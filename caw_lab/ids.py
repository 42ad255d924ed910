"""Identifiers and timestamps in the reference's shape: ``wf_`` + 12 of [0-9a-z]; epoch ms."""

from __future__ import annotations

import os
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
PAIRS = [first + second for first in ALPHABET for second in ALPHABET]
"""Two characters at a time: six divisions an id instead of twelve."""
ACCEPTED = (1 << 64) // SPACE * SPACE
"""Draws of 64 bits below this are uniform over SPACE once reduced; three in four are."""


def new_id(kind: str) -> str:
    """Uniform over the 36**12 ids, as twelve independent choices are, from one 8-byte read
    of the system's randomness (rejected and read again one time in four) instead of twelve:
    every tool call draws one for its correlation id."""
    n = int.from_bytes(os.urandom(8), "little")
    while n >= ACCEPTED:
        n = int.from_bytes(os.urandom(8), "little")
    n %= SPACE
    chars = []
    for _ in range(LENGTH // 2):
        n, pair = divmod(n, len(PAIRS))
        chars.append(PAIRS[pair])
    return PREFIXES[kind] + "".join(chars)


def now_ms() -> int:
    return time.time_ns() // 1_000_000
