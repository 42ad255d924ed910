"""Repository-relative path globs, and the exact answer to "can these two globs match a common path?".

File leases conflict when their globs overlap, so the decision must never miss an overlap
(two agents would edit one file) and should never invent one (an agent would wait for
nothing). It is decided exactly, for this syntax:

- a path is ``/``-separated segments; a segment is a non-empty string without ``/`` or NUL
  and is neither ``.`` nor ``..`` (repository-relative paths are normalised);
- ``*`` matches any run of characters within one segment, the empty one included;
- ``?`` matches one character; ``[abc]``, ``[a-z]`` and ``[!abc]`` (or ``[^abc]``) one character
  of a class (a ``]`` first in a class is literal);
- ``**`` as a whole segment matches zero or more segments (``src/**`` matches ``src`` too);
  ``**`` inside a segment is two ``*``;
- every other character is itself. There is no escaping: a backslash is refused.

Hidden files are not special: ``*`` matches ``.env``.

The decision runs two automata side by side. Over segments, a state is a pair of positions
in the two globs; ``**`` either steps over itself or swallows one segment. A segment is
consumed only when the two segment patterns can match a common segment, which is the same
product construction one level down, over characters, where a character class is a set of
code point intervals so ``[a-m]`` against ``[!c-z]`` is one interval intersection. The
character level also tracks whether the segment read so far is ``""``, ``.``, ``..`` or
anything else, so a witness never needs a forbidden segment. Both searches are
breadth-first over at most (atoms x atoms x 4) states, and return a witness path.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

MAX_GLOB_CHARS = 1024
MAX_CODE_POINT = 0x10FFFF
SLASH, DOT = ord("/"), ord(".")

Intervals = tuple[tuple[int, int], ...]
"""Sorted, disjoint, non-adjacent closed ranges of code points."""


def normalise(ranges: list[tuple[int, int]]) -> Intervals:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] <= r[1]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def intersect(a: Intervals, b: Intervals) -> Intervals:
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def complement(a: Intervals) -> Intervals:
    out, start = [], 0
    for lo, hi in a:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CODE_POINT:
        out.append((start, MAX_CODE_POINT))
    return tuple(out)


SEGMENT_CHARS = normalise([(1, SLASH - 1), (SLASH + 1, MAX_CODE_POINT)])
"""What a character of a segment may be: anything but NUL and ``/``."""
NOT_DOT = complement(((DOT, DOT),))
READABLE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def contains(a: Intervals, code: int) -> bool:
    return any(lo <= code <= hi for lo, hi in a)


def pick(a: Intervals) -> str:
    """A character of the (non-empty) set, a readable one when there is one."""
    return next((c for c in READABLE if contains(a, ord(c))), chr(a[0][0]))


STAR = "*"
Atom = str | Intervals
"""``STAR``, or the set of characters one position may hold."""
Segment = tuple[Atom, ...]
GLOBSTAR: Segment = ("**",)


class GlobError(ValueError):
    """A glob outside the supported syntax, or one that would leave the repository."""


@dataclass(frozen=True)
class Glob:
    text: str
    segments: tuple[Segment, ...]

    @property
    def prefix(self) -> str:
        """The literal text before the first wildcard: two globs can share a path only if one's
        prefix starts the other's (the SQL pre-filter for file leases)."""
        cut = min((i for i, ch in enumerate(self.text) if ch in "*?["), default=len(self.text))
        return self.text[:cut]


def parse(text: str) -> Glob:
    """Parse a repository-relative glob, refusing anything that could name a path outside it."""
    if not text:
        raise GlobError("the glob is empty")
    if len(text) > MAX_GLOB_CHARS:
        raise GlobError(f"the glob is longer than {MAX_GLOB_CHARS} characters")
    if text.startswith("/"):
        raise GlobError("the glob is absolute; name a path relative to the repository")
    if "\\" in text:
        raise GlobError("backslashes are not supported (there is no escaping; use '/' between segments)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise GlobError("the glob holds a control character")
    parts = text.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            shown = {
                "": "an empty segment ('//' or a trailing '/')",
                ".": "a '.' segment",
                "..": "a '..' segment, which would leave the repository",
            }[part]
            raise GlobError(f"the glob has {shown}")
    return Glob(text, tuple(GLOBSTAR if part == "**" else segment(part) for part in parts))


def segment(text: str) -> Segment:
    atoms: list[Atom] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "*":
            if not atoms or atoms[-1] != STAR:
                atoms.append(STAR)
            i += 1
        elif ch == "?":
            atoms.append(SEGMENT_CHARS)
            i += 1
        elif ch == "[":
            chars, i = char_class(text, i)
            atoms.append(chars)
        else:
            atoms.append(((ord(ch), ord(ch)),))
            i += 1
    return tuple(atoms)


def char_class(text: str, start: int) -> tuple[Intervals, int]:
    """The class opening at ``text[start]``, and the index after its ``]``."""
    i = start + 1
    negated = i < len(text) and text[i] in "!^"
    i += negated
    ranges: list[tuple[int, int]] = []
    first = True
    while i < len(text) and (text[i] != "]" or first):
        first = False
        lo = text[i]
        if i + 2 < len(text) and text[i + 1] == "-" and text[i + 2] != "]":
            hi = text[i + 2]
            if ord(hi) < ord(lo):
                raise GlobError(f"the class range {lo}-{hi} runs backwards")
            ranges.append((ord(lo), ord(hi)))
            i += 3
        else:
            ranges.append((ord(lo), ord(lo)))
            i += 1
    if i >= len(text):
        raise GlobError(f"the character class opened at position {start} is not closed")
    listed = normalise(ranges)
    # Never empty: a listed character is no control character, and '/' ends the segment first.
    return intersect(complement(listed) if negated else listed, SEGMENT_CHARS), i + 1


# -- the decision ----------------------------------------------------------------------

EMPTY, ONE_DOT, TWO_DOTS, NAME = range(4)
"""What the segment read so far is: only NAME may end a segment."""
AFTER_DOT = {EMPTY: ONE_DOT, ONE_DOT: TWO_DOTS, TWO_DOTS: NAME, NAME: NAME}


def overlap(a: Glob, b: Glob) -> str | None:
    """A path both globs match, or ``None`` when there is none."""
    start = (0, 0, False)
    parents: dict[tuple[int, int, bool], tuple[tuple[int, int, bool], str | None] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        i, j, consumed = state
        if i == len(a.segments) and j == len(b.segments):
            if consumed:
                return "/".join(trail(parents, state))
            continue
        for nxt, seg in segment_moves(a.segments, b.segments, i, j):
            key = (nxt[0], nxt[1], consumed or seg is not None)
            if key not in parents:
                parents[key] = (state, seg)
                queue.append(key)
    if all(s == GLOBSTAR for s in (*a.segments, *b.segments)):
        return "x"  # both are only '**': any one-segment path
    return None


def trail(parents: dict, state: tuple) -> list[str]:  # type: ignore[type-arg]
    out: list[str] = []
    while parents[state] is not None:
        state, piece = parents[state]
        if piece is not None:
            out.append(piece)
    return out[::-1]


def segment_moves(
    a: tuple[Segment, ...], b: tuple[Segment, ...], i: int, j: int
) -> Iterator[tuple[tuple[int, int], str | None]]:
    """Moves from (i, j): stepping over a ``**`` (no segment), or consuming one segment both accept."""
    sa = a[i] if i < len(a) else None
    sb = b[j] if j < len(b) else None
    if sa == GLOBSTAR:
        yield (i + 1, j), None
    if sb == GLOBSTAR:
        yield (i, j + 1), None
    if sa is None or sb is None or (sa == GLOBSTAR and sb == GLOBSTAR):
        return
    ta = (STAR,) if sa == GLOBSTAR else sa
    tb = (STAR,) if sb == GLOBSTAR else sb
    common = common_segment(ta, tb)
    if common is not None:
        yield (i + (sa != GLOBSTAR), j + (sb != GLOBSTAR)), common


@functools.lru_cache(maxsize=4096)
def common_segment(a: Segment, b: Segment) -> str | None:
    """A segment (not ``.`` or ``..``) both segment patterns match, or ``None``."""
    start = (0, 0, EMPTY)
    parents: dict[tuple[int, int, int], tuple[tuple[int, int, int], str] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        i, j, read = state
        if i == len(a) and j == len(b) and read == NAME:
            return "".join(trail(parents, state))
        for (ni, nj), chars in char_moves(a, b, i, j):
            steps = [("", read)] if chars is None else char_choices(chars, read)
            for ch, after in steps:
                key = (ni, nj, after)
                if key not in parents:
                    parents[key] = (state, ch)
                    queue.append(key)
    return None


def char_moves(a: Segment, b: Segment, i: int, j: int) -> Iterator[tuple[tuple[int, int], Intervals | None]]:
    """``None`` chars: a star is stepped over; otherwise one character from ``chars`` is read."""
    xa = a[i] if i < len(a) else None
    xb = b[j] if j < len(b) else None
    if xa == STAR:
        yield (i + 1, j), None
    if xb == STAR:
        yield (i, j + 1), None
    if xa is None or xb is None:
        return
    if xa == STAR and xb == STAR:
        yield (i, j), SEGMENT_CHARS
    elif xa == STAR:
        yield (i, j + 1), xb  # type: ignore[misc]
    elif xb == STAR:
        yield (i + 1, j), xa  # type: ignore[misc]
    else:
        both = intersect(xa, xb)  # type: ignore[arg-type]
        if both:
            yield (i + 1, j + 1), both


def char_choices(chars: Intervals, read: int) -> Iterator[tuple[str, int]]:
    """The characters worth trying from ``chars``: a dot (it changes what was read differently)
    and one other character."""
    if contains(chars, DOT):
        yield ".", AFTER_DOT[read]
    others = intersect(chars, NOT_DOT)
    if others:
        yield pick(others), NAME
