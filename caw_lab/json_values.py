"""Standard JSON values of bounded size and depth: all a tool call or an imported bundle may hold.

Python's ``json`` reads and writes ``NaN`` and ``Infinity``, which no other JSON parser
accepts; it keeps strings with lone surrogates, which cannot be written as UTF-8; and it
nests as deep as it is given. A value stored with any of these makes every later read
that returns it unanswerable — for every client, not only the one that sent it. So every
value that comes in is checked here once, whole, before anything else looks at it: the
checks run without recursion (a value nested thousands deep is refused, not a crash), and
stop as soon as a limit is passed (a huge value costs no more than the limit to refuse).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import pydantic_core

from caw_lab.errors import CawError, invalid_input
from caw_lab.limits import MAX_CALL_BYTES, MAX_DEPTH, MAX_FIELD_BYTES, MAX_INTEGER

Path = tuple[Any, ...]
"""Where a value sits: parameter name, then keys and indexes, as a linked pair (parent, step)."""

SHOWN_KEY = 40
"""Characters of a key shown in an error's path: a 1 MiB key is not echoed back."""


class Rendered(dict[str, Any]):
    """A JSON object with the text it was parsed from, so a surface that answers in JSON sends
    that very text instead of serialising the object again: the context a task loads is kept
    as text, and its ``token_estimate`` counts that text's tokens, so what an agent reads is
    what was counted, and a kept answer is not serialised anew on each load (which cost more
    than the rest of the load: bench/RESULTS.md). The text is not kept in step with the object:
    only for results nobody changes before they are sent."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__(pydantic_core.from_json(text, allow_inf_nan=False))  # a fresh object each time
        self.text = text


def check_arguments(arguments: Mapping[str, Any]) -> None:
    """Refuse a tool call unless every parameter is standard JSON within ``MAX_DEPTH``, each
    at most ``MAX_FIELD_BYTES`` and all together at most ``MAX_CALL_BYTES``."""
    total = 2
    for name, value in arguments.items():
        total += text_bytes(name, (name,)) + 1 + size(value, (name,), MAX_FIELD_BYTES) + 1
        if total > MAX_CALL_BYTES:
            raise too_large("The call's arguments are", MAX_CALL_BYTES, "Split the work over several calls.")


def check(value: Any, where: str, limit: float = MAX_FIELD_BYTES) -> int:
    """Refuse ``value`` (named ``where`` in errors) unless it is standard JSON within the
    depth limit and ``limit`` bytes; returns its size."""
    return size(value, (where,), limit)


def loads(text: str, where: str, limit: float = MAX_FIELD_BYTES) -> Any:
    """Parse JSON text strictly (no NaN, no Infinity) and check the value as ``check`` does."""
    if len(text) > limit:
        raise too_large(f"{where} is", limit)
    try:
        value = json.loads(text, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise invalid_input(
            f"{where} is not standard JSON: {str(exc)[:200]}",
            f"Store standard JSON: no NaN or Infinity, nested at most {MAX_DEPTH} levels.",
        ) from None
    check(value, where, limit)
    return value


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def size(value: Any, path: Path, limit: float) -> int:
    """Compact-JSON size of ``value``, refusing anything that is not standard JSON within limits.

    Containers wait on a stack; the scalars in them are measured as they are met, and text
    (most of any call) by ``isascii`` and ``len`` alone when it is ASCII."""
    if type(value) is str or not isinstance(value, CONTAINERS):  # most parameters are text: no ABC check
        total = scalar_bytes(value, path)
        if total > limit:
            raise too_large(f"{shown(path)} is", limit)
        return total
    total = 0
    pending: list[tuple[Any, Path, int]] = [(value, path, 1)]
    while pending and total <= limit:
        item, where, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise invalid_input(
                f"{shown(where)} nests deeper than {MAX_DEPTH} levels",
                f"Flatten the value: objects and arrays nest at most {MAX_DEPTH} levels.",
            )
        total += 1 + max(len(item), 1)
        if total > limit:
            break
        pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
        keyed = isinstance(item, Mapping)
        for key, child in pairs:
            if keyed:
                total += (len(key) if type(key) is str and key.isascii() else key_bytes(key, where)) + 1
            if type(child) is str and child.isascii():
                total += len(child)
            elif isinstance(child, CONTAINERS):
                pending.append((child, (where, key), depth + 1))
            else:
                total += scalar_bytes(child, (where, key))
    if total > limit:
        raise too_large(f"{shown(path)} is", limit)
    return total


CONTAINERS = (Mapping, list, tuple)


def scalar_bytes(value: Any, where: Path) -> int:
    if isinstance(value, str):
        return text_bytes(value, where)
    if value is None or isinstance(value, bool):
        return 4 if value is not False else 5
    if isinstance(value, int):
        return integer_bytes(value, where)
    if isinstance(value, float):
        return number_bytes(value, where)
    raise invalid_input(
        f"{shown(where)} is a {type(value).__name__}, not a JSON value",
        "Send only JSON values: objects, arrays, strings, numbers, booleans, null.",
    )


def text_bytes(text: str, where: Path) -> int:
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise invalid_input(
            f"{shown(where)} holds a lone surrogate: text must be valid Unicode",
            "Send text as valid UTF-8; escape binary data (base64) first.",
        ) from None


def key_bytes(key: Any, where: Path) -> int:
    if not isinstance(key, str):
        raise invalid_input(
            f"{shown(where)} has a key that is not a string ({type(key).__name__})",
            "Object keys must be strings, as in JSON.",
        )
    return text_bytes(key, (where, key))


def integer_bytes(number: int, where: Path) -> int:
    if not -MAX_INTEGER - 1 <= number <= MAX_INTEGER:
        raise invalid_input(
            f"{shown(where)} is an integer beyond 64 bits",
            f"Use integers between {-MAX_INTEGER - 1} and {MAX_INTEGER}, or a string.",
        )
    return len(str(number))


def number_bytes(number: float, where: Path) -> int:
    if not math.isfinite(number):
        name = "NaN" if math.isnan(number) else "Infinity" if number > 0 else "-Infinity"
        raise invalid_input(
            f"{shown(where)} is {name}: NaN and Infinity are not JSON numbers",
            "Send a finite number, or null or a string for a missing or unbounded value.",
        )
    return len(repr(number))


def too_large(what: str, limit: float, suggestion: str = "") -> CawError:
    return CawError(
        "PAYLOAD_TOO_LARGE",
        f"{what} over the {int(limit) // (1024 * 1024)} MiB limit (counted whole, keys included)",
        recoverable=True,
        suggestion=suggestion or "Store large content in a file and pass its path or a summary.",
    )


def shown(path: Path) -> str:
    """``metadata.a[3].b`` for the linked path, keys cut short and made printable."""
    steps: list[Any] = []
    while len(path) == 2:
        path, step = path
        steps.append(step)
    text = str(path[0]) if path else "(input)"
    for step in reversed(steps):
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            key = str(step)
            key = key if len(key) <= SHOWN_KEY else key[:SHOWN_KEY] + "..."
            text += "." + key.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
