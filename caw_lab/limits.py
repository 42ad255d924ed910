"""Every bound on what one request may ask of caw-lab, in one place (DESIGN.md invariant 10).

A request beyond any of them is refused up front with a CawError saying which limit it
met, before anything is read at length or written. docs/security.md lists them, and a
test keeps that list and these values the same.
"""

from __future__ import annotations

from caw_lab.errors import CawError

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays in one parameter (the parameter's own object is level 1)."""

MAX_FIELD_BYTES = 1024 * 1024
"""Largest parameter, counted whole: its compact JSON text in UTF-8, keys included (a text
parameter counts its characters' bytes, without quotes or escapes)."""

MAX_CALL_BYTES = 4 * 1024 * 1024
"""Largest call: all its parameters together, names included, counted as ``MAX_FIELD_BYTES`` counts one."""

MAX_INTEGER = 2**63 - 1
"""Integers must fit SQLite's 64-bit INTEGER, negatives down to ``-MAX_INTEGER - 1``."""

MAX_WORKFLOW_TASKS = 10_000
"""Most tasks one workflow may hold, whether they come from a plan, a replan, a template,
added one by one, or an imported bundle."""

MAX_DEPENDENCIES = 500
"""Most tasks one task may depend on (its fan-in), of either dependency type."""

MAX_RANKED_ITEMS = 2_000
"""Most items (prior tasks, siblings, checkpoints) the context ranker scores in one load:
the most recent ones, so a long-lived workflow's load costs the same as a young one's."""

MAX_LEASE_TTL_MS = 60 * 60 * 1000
"""Longest a lease is granted or renewed for at once: an hour (it is renewed to hold longer)."""

MAX_LEASES_PER_CLAIM = 32
"""Most files a claim with ``lease_files`` leases: each is two statements of the claim's one batch."""

MAX_REQUIRED_CAPABILITIES = 20
"""Most capabilities one task may require."""

MAX_CAPABILITY_CHARS = 100
"""Longest name of a required capability."""


def exceeded(message: str, suggestion: str, **details: int) -> CawError:
    """The refusal of a request beyond one of these limits: ``details`` holds the limit and what was asked."""
    return CawError("LIMIT_EXCEEDED", message, recoverable=True, suggestion=suggestion, details=details)
