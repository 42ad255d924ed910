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
}


def new_id(kind: str) -> str:
    return PREFIXES[kind] + "".join(secrets.choice(ALPHABET) for _ in range(12))


def now_ms() -> int:
    return time.time_ns() // 1_000_000
