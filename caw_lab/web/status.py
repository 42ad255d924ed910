"""The HTTP status a refusal is answered with, read from its ``CawError`` code.

Codes are the stable part of an error (DESIGN.md invariant 4), so the status follows from
the code's shape: ``*_NOT_FOUND`` is 404, a clash with the current state of things 409,
input the server will never accept 422, the gate's own refusals 401/403/421, a busy or
unreachable backend 503/502. Anything else a caller did wrong is 400.
"""

from __future__ import annotations

EXACT = {
    "UNAUTHORIZED": 401, "FORBIDDEN": 403, "ORIGIN_NOT_ALLOWED": 403, "HOST_NOT_ALLOWED": 421,
    "NOT_FOUND": 404, "UNKNOWN_TOOL": 404, "METHOD_NOT_ALLOWED": 405, "LIMIT_EXCEEDED": 413, "PAYLOAD_TOO_LARGE": 413,
    "INVALID_INPUT": 422, "INVALID_CONFIG": 422, "INVALID_RUNTIME": 422, "UNKNOWN_RUNTIME": 422,
    "SELF_DEPENDENCY": 422, "DEPENDENCY_CYCLE": 422, "PATH_OUTSIDE_ROOTS": 422, "CONSTRAINT_VIOLATION": 422,
    "DATABASE_BUSY": 503, "SUSPEND_TIMEOUT": 504, "INTERNAL_ERROR": 500, "DATABASE_ERROR": 500,
    "CHANGE_REPLY_LOST": 500, "RUNTIME_UNAVAILABLE": 503, "GITHUB_UNAVAILABLE": 502,
}
CONFLICT_MARKS = ("CONFLICT", "LOCKED", "EXISTS", "ALREADY", "CLAIMED", "IN_USE", "INVALID_TRANSITION",
                  "INVALID_STATE", "NOT_REMOVABLE", "NOT_RUNNING", "NOT_SUSPENDED", "MISMATCH", "STALE", "HELD",
                  "DUPLICATE")
"""Parts of a code that say the request clashes with how things stand now: 409, retry after reading again."""


def http_status(code: str) -> int:
    if code in EXACT:
        return EXACT[code]
    if code.endswith("_NOT_FOUND"):
        return 404
    if code.startswith("MISSING_"):
        return 422
    if any(mark in code for mark in CONFLICT_MARKS):
        return 409
    return 400
