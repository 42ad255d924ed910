"""Typed template variables: what each type accepts, and every problem reported at once.

A variable is ``{name, type, required, default, description}`` plus ``values`` (enum) or
``pattern`` (pattern). Types: string, int, float, bool, enum, pattern, list. A plain name,
the reference's format, is a required string. A variable with a default is never required.

Values arrive as JSON (typed) or as text (``--var count=3`` on a command line), so each
type also accepts its textual spelling: ``"3"`` for an int, ``"yes"`` for a bool,
``"a, b"`` for a list. A pattern is matched whole, with a time limit, so a catastrophic
regular expression cannot hang the server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import regex

from caw_lab.errors import CawError

TYPES = ("string", "int", "float", "bool", "enum", "pattern", "list")
TRUE = frozenset({"true", "yes", "on", "1"})
FALSE = frozenset({"false", "no", "off", "0"})
MAX_VALUE_CHARS = 10_000
MAX_LIST_ITEMS = 100
PATTERN_SECONDS = 0.1
TIGHTER = {
    "string": {"string", "enum", "pattern"},
    "pattern": {"pattern", "enum"},
    "enum": {"enum"},
    "float": {"float", "int"},
    "int": {"int"},
    "bool": {"bool"},
    "list": {"list"},
}
"""The types a child template may give a variable of each parent type: the same, or one
accepting fewer values."""


def spec_of(declared: str | Mapping[str, Any]) -> dict[str, Any]:
    """A declaration as written (a plain name is a bare spec)."""
    return {"name": declared} if isinstance(declared, str) else dict(declared)


def complete(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec with every field: type string unless given; required unless it has a default."""
    full = {
        "name": spec["name"],
        "type": spec.get("type") or "string",
        "description": spec.get("description"),
        "default": spec.get("default"),
    }
    full["required"] = full["default"] is None and spec.get("required", True) is not False
    if full["type"] == "enum":
        full["values"] = list(spec.get("values") or [])
    if full["type"] == "pattern":
        full["pattern"] = spec.get("pattern")
    return full


def spec_problems(spec: Mapping[str, Any]) -> list[str]:
    """What is wrong with a completed spec: missing enum values or pattern, a pattern that
    does not compile, a default its own type refuses."""
    name, kind = spec["name"], spec["type"]
    if not name.isidentifier():
        return [f"variable {name!r}: names are letters, digits and underscores, not starting with a digit"]
    if kind == "enum" and not spec.get("values"):
        return [f"variable {name}: an enum needs `values`"]
    if kind == "pattern":
        if not spec.get("pattern"):
            return [f"variable {name}: a pattern variable needs `pattern`"]
        try:
            regex.compile(spec["pattern"])
        except regex.error as exc:
            return [f"variable {name}: pattern {spec['pattern']!r} does not compile: {exc}"]
    if spec.get("default") is not None:
        problem = value_problem(spec, spec["default"])[1]
        if problem:
            return [f"variable {name}: default {spec['default']!r} {problem}"]
    return []


def check_specs(specs: Sequence[Mapping[str, Any]]) -> list[str]:
    names = [s["name"] for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    problems = [f"variables declared more than once: {', '.join(duplicates)}"] if duplicates else []
    return problems + [p for s in specs for p in spec_problems(s)]


def tighten(parent: Mapping[str, Any], child: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The parent's spec with the child's fields over it, and why that is refused if the
    child loosens the type (string cannot replace int, an enum cannot grow)."""
    merged = {**parent, **child}
    problems = []
    old, new = parent.get("type") or "string", merged.get("type") or "string"
    name = parent["name"]
    if new not in TIGHTER[old]:
        problems.append(f"variable {name}: a template may only tighten an inherited type; {old} cannot become {new}")
    elif new == "enum" and old == "enum" and not set(merged.get("values") or []) <= set(parent.get("values") or []):
        extra = sorted(set(merged.get("values") or []) - set(parent.get("values") or []))
        problems.append(f"variable {name}: an inherited enum may only lose values, not add {', '.join(extra)}")
    elif new == "enum" and old == "pattern":
        parent_spec = complete(parent)
        bad = [v for v in merged.get("values") or [] if value_problem(parent_spec, v)[1]]
        if bad:
            problems.append(f"variable {name}: enum values {', '.join(bad)} do not match the inherited pattern")
    if new != old and new != "enum":
        merged.pop("values", None)
    if new != "pattern":
        merged.pop("pattern", None)
    return merged, problems


def resolve(specs: Sequence[Mapping[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every variable's typed value; refuses, naming each, missing, unknown and invalid ones."""
    names = [s["name"] for s in specs]
    unknown = sorted(set(given) - set(names))
    values: dict[str, Any] = {}
    missing: list[str] = []
    invalid: dict[str, str] = {}
    for spec in specs:
        name = spec["name"]
        if name in given and not blank(given[name]):
            value, problem = value_problem(spec, given[name])
            if problem:
                invalid[name] = f"{name} {problem}"
            values[name] = value
        elif spec.get("default") is not None:
            values[name] = value_problem(spec, spec["default"])[0]
        elif spec.get("required", True):
            missing.append(name)
        else:
            values[name] = empty(spec)
    if missing or unknown or invalid:
        raise refusal(missing, unknown, invalid, names)
    return values


def refusal(missing: list[str], unknown: list[str], invalid: dict[str, str], names: list[str]) -> CawError:
    problems = (
        [f"{n} is required" for n in missing]
        + list(invalid.values())
        + [f"{n} is not a variable of this template" for n in unknown]
    )
    said = ([f"Missing required variables: {', '.join(missing)}"] if missing else []) + problems[len(missing) :]
    code = "MISSING_VARIABLES" if missing else "INVALID_VARIABLES" if invalid else "UNKNOWN_VARIABLES"
    suggestion = (
        f"Pass values for: {', '.join(missing)}."
        if missing
        else f"This template's variables are: {', '.join(names) or 'none'}."
    )
    return CawError(
        code,
        "; ".join(said),
        recoverable=True,
        suggestion=suggestion,
        details={"missing": missing, "unknown": unknown, "invalid": invalid, "problems": problems, "known": names},
    )


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def empty(spec: Mapping[str, Any]) -> Any:
    """An optional variable left out: nothing of its type."""
    return {"list": [], "bool": False, "int": 0, "float": 0.0}.get(spec["type"], "")


def value_problem(spec: Mapping[str, Any], value: Any) -> tuple[Any, str | None]:
    """(the value converted to the spec's type, None) or (value, what is wrong with it)."""
    kind = spec.get("type") or "string"
    try:
        return CONVERT[kind](spec, value), None
    except (TypeError, ValueError) as exc:
        return value, str(exc)


def as_text(spec: Mapping[str, Any], value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"must be text, not {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"is longer than {MAX_VALUE_CHARS} characters")
    return text


def as_int(spec: Mapping[str, Any], value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit() and len(value) < 20:
        return int(value)
    raise ValueError(f"must be an integer (got {value!r})")


def as_float(spec: Mapping[str, Any], value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"must be a number (got {value!r})")
    try:
        number = float(value) if isinstance(value, (int, float, str)) and len(str(value)) < 50 else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number (got {value!r})")
    return number


def as_bool(spec: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise ValueError(f"must be true or false (got {value!r})")


def as_enum(spec: Mapping[str, Any], value: Any) -> str:
    text = as_text(spec, value)
    if text not in spec.get("values", []):
        raise ValueError(f"must be one of {', '.join(spec.get('values', []))} (got {text!r})")
    return text


def as_pattern(spec: Mapping[str, Any], value: Any) -> str:
    text = as_text(spec, value)
    try:
        matched = regex.fullmatch(spec["pattern"], text, timeout=PATTERN_SECONDS)
    except TimeoutError:
        raise ValueError(f"took too long to match the pattern {spec['pattern']!r}") from None
    if not matched:
        raise ValueError(f"must match the pattern {spec['pattern']!r} (got {text!r})")
    return text


def as_list(spec: Mapping[str, Any], value: Any) -> list[str]:
    items = [i.strip() for i in value.split(",") if i.strip()] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise TypeError("must be a list of text (or text separated by commas)")
    if len(items) > MAX_LIST_ITEMS or any(len(i) > MAX_VALUE_CHARS for i in items):
        raise ValueError(f"must have at most {MAX_LIST_ITEMS} items of at most {MAX_VALUE_CHARS} characters")
    return items


CONVERT = {
    "string": as_text,
    "int": as_int,
    "float": as_float,
    "bool": as_bool,
    "enum": as_enum,
    "pattern": as_pattern,
    "list": as_list,
}
