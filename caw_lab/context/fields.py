"""An object part of a context (the workflow, the current task) as named fields, fitted to a slice.

A load fits each part three times (to measure the parts, the empty frame, the payload), so
a field counts its cost once. The object's cost is taken as the sum of its fields': in
compact JSON a field costs the same tokens after ``{"`` as after ``,"``, and where the
tokenizer merges differently the loader's exact count of the whole payload corrects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from caw_lab.context.tokens import count_json, counter

IDENTITY = 3
"""The first fields (id, name, status): without them the part is left out."""
BRACES = 1


@dataclass(frozen=True)
class Field:
    name: str
    value: Any
    smaller: Any = None
    """A smaller form to show when ``value`` does not fit (an object's gist)."""

    @cached_property
    def cost(self) -> int:
        """Tokens of ``"name":value`` and the separator before it."""
        return count_json({self.name: self.value}) - BRACES

    @cached_property
    def smaller_cost(self) -> int:
        return count_json({self.name: self.smaller}) - BRACES


Fields = list[Field]


def whole(fields: Fields | None) -> int:
    """The slice that holds every field in full."""
    return BRACES + sum(f.cost for f in fields) + 2 if fields else 0


def within(fields: Fields | None, room: int) -> tuple[dict[str, Any] | None, int]:
    """The fields in order while they fit ``room``, and their cost; a text that does not is
    cut, an object falls back to its smaller form or is left out, an empty one is left
    out. None when not even the first ``IDENTITY`` fields fit."""
    if fields is None:
        return None, 0
    out: dict[str, Any] = {}
    used = BRACES
    for i, field in enumerate(fields):
        if field.value is None and i >= IDENTITY:
            continue
        left = room - used
        if field.cost <= left:
            out[field.name], used = field.value, used + field.cost
        elif isinstance(field.value, str):
            cut = counter().truncate(field.value, left - (count_json({field.name: ""}) - BRACES))
            if cut:
                out[field.name], used = cut, used + count_json({field.name: cut}) - BRACES
        elif field.smaller is not None and field.smaller_cost <= left:
            out[field.name], used = field.smaller, used + field.smaller_cost
        if i == IDENTITY - 1 and len(out) < IDENTITY:
            return None, 0
    return out, used
