"""A template document: the YAML or JSON a person writes, read as if hostile and checked whole.

Template files come from places their author controls (a repository, a registry), so the
reader bounds every cost before trusting anything: the size is checked before parsing,
YAML aliases (what a billion-laughs bomb is made of) are refused, nesting is bounded by
the parser's recursion, and every string that will be interpolated is checked by the
sandbox at load time. Problems are reported all at once, each with where it is.

A document is stored as written (unset fields omitted): a template that ``extends``
another overrides only the fields it gives, so "not given" must stay distinguishable from
a default until composition has merged the chain.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from caw_lab.engine.templates import interpolation
from caw_lab.engine.templates.variables import TYPES, spec_of
from caw_lab.engine.templates.versions import parse_ref, parse_version
from caw_lab.errors import CawError

MAX_TEMPLATE_BYTES = 256 * 1024
"""The largest template file read: hundreds of tasks fit in a few dozen KiB."""
MAX_TASKS = 500
MAX_NESTING = 32
"""Lists and mappings inside each other: a template needs five or six."""
MAX_VARIABLES = 100
FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
"""A template's file name without its extension: no separators, no leading dot, so a
name can never walk out of its folder."""
TASK_FIELDS = (
    "name",
    "description",
    "parallel_group",
    "depends_on",
    "estimated_complexity",
    "files_likely_affected",
    "context_from",
)
INTERPOLATED = ("name", "description", "parallel_group", "depends_on", "files_likely_affected", "context_from")


class Strict(BaseModel):
    """Unknown keys are refused, not dropped: a misspelt ``depends-on`` must not vanish."""

    model_config = ConfigDict(extra="forbid")


class TaskSpec(Strict):
    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    parallel_group: str | None = None
    depends_on: list[str] | None = None
    estimated_complexity: Literal["low", "medium", "high"] | None = None
    files_likely_affected: list[str] | None = None
    context_from: list[str] | None = None
    remove: bool | None = None


class VariableSpec(Strict):
    name: str = Field(min_length=1, max_length=100)
    type: Literal[TYPES] | None = None  # type: ignore[valid-type]
    description: str | None = None
    required: bool | None = None
    default: str | int | float | bool | list[str] | None = None
    values: list[str] | None = Field(None, min_length=1, max_length=200)
    pattern: str | None = Field(None, max_length=500)


class DocumentSpec(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    version: str | None = None
    description: str | None = None
    summary: str | None = None
    source: str | None = None
    extends: str | None = None
    variables: list[str | VariableSpec] | None = Field(None, max_length=MAX_VARIABLES)
    tasks: list[TaskSpec] | None = Field(None, max_length=MAX_TASKS)


def invalid(where: str, problems: list[str], code: str = "TEMPLATE_INVALID") -> CawError:
    return CawError(
        code,
        f"Template {where} is invalid: {'; '.join(problems)}",
        recoverable=True,
        suggestion="Fix the template (see docs/templates.md for the format).",
        details={"where": where, "problems": problems},
    )


def check_name(name: str, where: str = "name") -> str:
    """A template name: free text as the reference allows, but no ``@`` (it starts a version
    range) and no control characters."""
    if not name.strip() or "@" in name or any(ord(c) < 32 for c in name):
        raise invalid(where, [f"name {name!r} must be non-empty, without '@' or control characters"])
    return name


def check_slug(slug: str) -> str:
    """A name usable as a file name inside a templates folder; refuses path traversal."""
    if not SLUG.fullmatch(slug) or ".." in slug:
        raise CawError(
            "TEMPLATE_NAME_INVALID",
            f"{slug!r} cannot name a template file",
            recoverable=True,
            suggestion="Use letters, digits, '.', '_' and '-' (no '/', no '..', no leading dot).",
        )
    return slug


FastLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it: its scanner is linear where the pure-Python one
slows down quadratically with nesting."""
NESTING = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
UNNESTING = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def load_yaml(text: str) -> Any:
    """Safe YAML without aliases (``*ref`` is how a few bytes expand into gigabytes) and
    nested at most MAX_NESTING deep, both checked on the event stream before anything is built."""
    depth = 0
    for event in yaml.parse(text, Loader=FastLoader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.YAMLError(f"aliases (*name) are not allowed in templates, at {event.start_mark}")
        depth += isinstance(event, NESTING) - isinstance(event, UNNESTING)
        if depth > MAX_NESTING:
            raise RecursionError
    return yaml.load(text, Loader=FastLoader)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refused past the size limit without reading more than that."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(MAX_TEMPLATE_BYTES + 1)
    if max(size, len(data)) > MAX_TEMPLATE_BYTES:
        raise too_large(str(path), max(size, len(data)))
    return data


def too_large(where: str, size: int) -> CawError:
    return CawError(
        "TEMPLATE_TOO_LARGE",
        f"Template {where} is {size} bytes, over the {MAX_TEMPLATE_BYTES} limit",
        recoverable=True,
        suggestion="Split it, or move long text out of it.",
    )


def parse(data: bytes | str, fmt: str, where: str) -> Any:
    """JSON or alias-free YAML into plain values; every failure is TEMPLATE_INVALID."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_TEMPLATE_BYTES:
        raise too_large(where, len(raw))
    try:
        text = raw.decode("utf-8")
        return json.loads(text) if fmt == "json" else load_yaml(text)
    except UnicodeDecodeError:
        raise invalid(where, ["not UTF-8 text"]) from None
    except RecursionError:
        raise invalid(where, [f"nested too deeply (more than {MAX_NESTING} levels)"]) from None
    except (ValueError, yaml.YAMLError) as exc:
        raise invalid(where, [f"not valid {fmt.upper()}: {exc}"]) from None


def load(raw: Any, where: str) -> dict[str, Any]:
    """A parsed document checked whole: schema, version, extends, and every interpolated
    string in the sandbox. Returns it as written, unset fields left out."""
    if not isinstance(raw, dict):
        raise invalid(where, ["the document must be a mapping with at least `tasks`"])
    try:
        spec = DocumentSpec.model_validate(raw)
    except ValidationError as exc:
        raise invalid(
            where, [f"{'.'.join(map(str, e['loc'])) or '(document)'}: {e['msg']}" for e in exc.errors()]
        ) from None
    doc = spec.model_dump(exclude_unset=True, exclude_none=True)
    refusals = interpolation_refusals(doc)
    problems = [*shape_problems(doc), *(err.message for err in refusals)]
    if problems:
        unsafe = any(err.code == "TEMPLATE_UNSAFE" for err in refusals)
        raise invalid(where, problems, "TEMPLATE_UNSAFE" if unsafe else "TEMPLATE_INVALID")
    return doc


def shape_problems(doc: dict[str, Any]) -> list[str]:
    problems = []
    if "name" in doc:
        try:
            check_name(doc["name"])
        except CawError as err:
            problems += err.details["problems"]
    if "version" in doc:
        try:
            parse_version(doc["version"])
        except CawError as err:
            problems.append(err.message)
    if "extends" in doc:
        try:
            parse_ref(doc["extends"])
        except CawError as err:
            problems.append(f"extends: {err.message}")
    elif not doc.get("tasks"):
        problems.append("tasks: a template needs at least one task (or `extends` a template that has them)")
    names = [spec_of(v)["name"] for v in doc.get("variables") or []]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"variables declared more than once: {', '.join(duplicates)}")
    problems += [
        f"variable {n!r}: names are letters, digits and underscores, not starting with a digit"
        for n in names
        if not n.isidentifier()
    ]
    if not doc.get("extends") and any(t.get("remove") for t in doc.get("tasks") or []):
        problems.append("tasks: `remove: true` only makes sense in a template that `extends` another")
    return problems


def interpolation_refusals(doc: dict[str, Any]) -> list[CawError]:
    """Every interpolated string checked in the sandbox now, so an escape is refused when
    the template is read, not when someone applies it."""
    refusals = []
    for where, text in interpolated_strings(doc):
        try:
            interpolation.check(text, where)
        except CawError as err:
            refusals.append(err)
    return refusals


def interpolated_strings(doc: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(key, doc[key]) for key in ("summary", "source") if isinstance(doc.get(key), str)]
    for i, task in enumerate(doc.get("tasks") or []):
        for field in INTERPOLATED:
            value = task.get(field)
            items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
            found += [(f"tasks[{i}].{field}", item) for item in items]
    return found
