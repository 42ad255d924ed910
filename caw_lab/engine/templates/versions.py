"""Semantic versions and the ranges that pick them, as npm writes them.

A template reference is ``NAME`` or ``NAME@RANGE``; a range is an exact version
(``1.2.0``), a caret (``^1.2``: 1.2.0 up to, not including, 2.0.0), a tilde (``~1.2``),
comparisons (``>=1.1 <2``) or ``*``. The semantic_version library parses and orders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import semantic_version

from caw_lab.errors import CawError

DEFAULT_VERSION = "1.0.0"
"""What a template that states no version is: the reference's files have none."""
T = TypeVar("T")


def bad_version(text: object, why: str = "") -> CawError:
    return CawError(
        "INVALID_VERSION",
        f"{text!r} is not a semantic version{why}",
        recoverable=True,
        suggestion='Write MAJOR.MINOR.PATCH, e.g. "1.2.0" (quoted in YAML).',
    )


def parse_version(text: object) -> semantic_version.Version:
    if not isinstance(text, str):
        raise bad_version(text, " (write it as a quoted string)")
    try:
        return semantic_version.Version(text)
    except ValueError:
        raise bad_version(text) from None


def parse_range(text: str) -> semantic_version.NpmSpec:
    try:
        return semantic_version.NpmSpec(text)
    except ValueError:
        raise CawError(
            "INVALID_VERSION",
            f"{text!r} is not a version range",
            recoverable=True,
            suggestion="Use an exact version (1.2.0), ^1.2, ~1.2, >=1.1 <2 or *.",
        ) from None


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``NAME@RANGE`` -> (NAME, RANGE); the range is checked, not resolved."""
    name, sep, wanted = ref.partition("@")
    if not name.strip():
        raise CawError(
            "INVALID_INPUT",
            f"{ref!r} names no template",
            recoverable=True,
            suggestion="Write NAME or NAME@RANGE, e.g. bugfix@^1.2.",
        )
    if sep:
        parse_range(wanted)
    return name, wanted if sep else None


def key(version: str) -> semantic_version.Version:
    return semantic_version.Version(version)


def newest(items: Iterable[T], version_of: Callable[[T], str], wanted: str | None = None) -> T | None:
    """The item with the highest version matching ``wanted`` (any, when None); first wins ties."""
    spec = parse_range(wanted) if wanted else None
    best: T | None = None
    for item in items:
        v = key(version_of(item))
        if (spec is None or spec.match(v)) and (best is None or v > key(version_of(best))):
            best = item
    return best
