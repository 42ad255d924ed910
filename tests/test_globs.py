"""Glob overlap is decided exactly: checked against brute force, with an independent matcher.

The matcher here translates a glob to a regular expression over ``"/" + path``; it shares no
code with the automata in ``caw_lab.engine.globs``. Two directions are checked:

- every overlap the decision reports comes with a witness path, which both globs must match;
- every common path brute force finds means the decision must report an overlap.

Brute force can only try finitely many paths, so the alphabets are chosen to make it
complete: characters other than ``a`` and ``.`` behave alike in these globs, so ``b``
stands for all of them, and a shortest common segment is at most as long as the two
segment patterns' atoms plus one (each character read advances an atom, except one that
turns ``""`` or a run of dots into a name). At the path level, a segment matters only
through which segment patterns it matches, so one representative per such signature
stands for all segments.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caw_lab.engine.globs import GlobError, common_segment, overlap, parse, segment


def segment_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end]
            negated = body[0] in "!^"
            chars = re.escape(body[1:] if negated else body)
            out.append(f"[^{chars}/]" if negated else f"[{chars}]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@cache
def oracle(glob: str) -> re.Pattern[str]:
    parts = ["(?:/[^/]+)*" if seg == "**" else "/" + segment_regex(seg) for seg in glob.split("/")]
    return re.compile("".join(parts))


def matches(glob: str, path: str) -> bool:
    return oracle(glob).fullmatch("/" + path) is not None


def valid_path(path: str) -> bool:
    return all(seg not in ("", ".", "..") and "/" not in seg for seg in path.split("/"))


# -- segments ----------------------------------------------------------------------------

ATOMS = ["a", ".", "*", "?", "[a.]", "[!a]", "[!.]"]
SEGMENT_ALPHABET = "a.b"


def strings(alphabet: str, longest: int) -> list[str]:
    return ["".join(p) for n in range(1, longest + 1) for p in itertools.product(alphabet, repeat=n)]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3), st.lists(st.sampled_from(ATOMS), min_size=1, max_size=3)
)
def test_common_segment_agrees_with_brute_force(left: list[str], right: list[str]) -> None:
    a, b = "".join(left), "".join(right)
    witness = common_segment(segment(a), segment(b))
    if witness is not None:
        assert valid_path(witness) and matches(a, witness) and matches(b, witness), (a, b, witness)
    longest = len(left) + len(right) + 1
    found = next(
        (s for s in strings(SEGMENT_ALPHABET, longest) if s not in (".", "..") and matches(a, s) and matches(b, s)),
        None,
    )
    assert (witness is None) == (found is None), (a, b, witness, found)


# -- paths -------------------------------------------------------------------------------

SEGMENTS = ["a", "b", "*", "?", ".*", "a*", "[!a]", "**"]


@cache
def representatives() -> list[str]:
    """One segment per distinct set of SEGMENTS it matches; segments up to 4 characters realise
    every set that segments up to 6 characters do, so nothing longer is needed."""

    def signatures(longest: int) -> dict[tuple[bool, ...], str]:
        found: dict[tuple[bool, ...], str] = {}
        for s in strings("ab.c", longest):
            if s not in (".", ".."):
                found.setdefault(tuple(matches(p, s) for p in SEGMENTS if p != "**"), s)
        return found

    short = signatures(4)
    assert set(short) == set(signatures(6))
    return sorted(short.values())


@cache
def paths(longest: int) -> list[str]:
    reps = representatives()
    return ["/".join(p) for n in range(1, longest + 1) for p in itertools.product(reps, repeat=n)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3),
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3),
)
def test_overlap_agrees_with_brute_force(left: list[str], right: list[str]) -> None:
    a, b = "/".join(left), "/".join(right)
    witness = overlap(parse(a), parse(b))
    if witness is not None:
        assert valid_path(witness) and matches(a, witness) and matches(b, witness), (a, b, witness)
    # A shortest common path has as many segments as a glob without '**' has, or, when both
    # have one, at most their other segments together (each of its segments advances one):
    # never more than 4 here.
    found = next((p for p in paths(4) if matches(a, p) and matches(b, p)), None)
    assert (witness is None) == (found is None), (a, b, witness, found)
    assert (overlap(parse(b), parse(a)) is None) == (witness is None), "overlap is symmetric"


@pytest.mark.parametrize(
    ("a", "b", "common"),
    [
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "docs/*", False),
        ("**", "docs/*", True),
        ("src/**", "src", True),
        ("src/*", "src", False),
        ("a/**/b", "a/b", True),
        ("a/*/b", "a/b", False),
        ("*.py", "*.md", False),
        ("**/*.py", "src/**/test_x.py", True),
        ("[a-m]*", "[!c-z]*", True),
        ("[a-c]", "[d-f]", False),
        ("?.", ".*", False),  # only '..' would match both, and it is no path segment
        (".*", "*.", True),  # '.x.'
        ("*", ".env", True),
        ("src/a.py", "src/a.py", True),
    ],
)
def test_documented_cases(a: str, b: str, common: bool) -> None:
    witness = overlap(parse(a), parse(b))
    assert (witness is not None) == common, witness
    if witness is not None:
        assert matches(a, witness) and matches(b, witness)


def test_the_literal_prefix_is_what_precedes_the_first_wildcard() -> None:
    assert parse("src/a.py").prefix == "src/a.py"
    assert parse("src/*.py").prefix == "src/"
    assert parse("src/[ab].py").prefix == "src/"
    assert parse("**").prefix == ""


@pytest.mark.parametrize(
    ("glob", "why"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../secrets", "leave the repository"),
        ("src/../../x", "leave the repository"),
        ("src//a.py", "empty segment"),
        ("src/", "empty segment"),
        ("./src", "'.' segment"),
        ("src\\a.py", "backslash"),
        ("src/\x00", "control character"),
        ("src/[ab", "not closed"),
        ("src/[z-a]", "backwards"),
        ("src/[/]", "not closed"),
        ("x" * 1025, "longer than"),
    ],
)
def test_globs_that_could_escape_or_mean_nothing_are_refused(glob: str, why: str) -> None:
    with pytest.raises(GlobError, match=re.escape(why)):
        parse(glob)
