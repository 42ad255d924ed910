"""A tool's JSON input schema read back as a list of parameters, for ``caw tools`` and docs/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CONSTRAINTS = {
    "minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<",
    "minLength": "min length", "maxLength": "max length", "minItems": "min items", "maxItems": "max items",
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    required: bool
    default: Any = None
    has_default: bool = False
    constraints: tuple[str, ...] = ()
    description: str = ""

    def note(self) -> str:
        """Default and limits as one trailing phrase, empty when there are none."""
        parts = [f"default {json.dumps(self.default)}"] if self.has_default and self.default is not None else []
        parts += self.constraints
        return f" ({'; '.join(parts)})" if parts else ""


def describe_params(schema: dict[str, Any]) -> list[Param]:
    required = set(schema.get("required", ()))
    return [param(name, prop, name in required) for name, prop in schema.get("properties", {}).items()]


def param(name: str, prop: dict[str, Any], required: bool) -> Param:
    shape = non_null(prop)
    return Param(
        name=name,
        type=type_name(prop),
        required=required,
        default=prop.get("default"),
        has_default="default" in prop,
        constraints=tuple(f"{label} {shape[key]}" for key, label in CONSTRAINTS.items() if key in shape),
        description=prop.get("description", ""),
    )


def non_null(prop: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional parameter without its ``null`` alternative."""
    options = [o for o in prop.get("anyOf", ()) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else prop


def type_name(prop: dict[str, Any]) -> str:
    """A compact type: ``string``, ``low|medium|high``, ``list[PlanTask]``, ``string|integer``."""
    if "anyOf" in prop:
        options = [o for o in prop["anyOf"] if o.get("type") != "null"]
        return "|".join(type_name(o) for o in options) or "null"
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "enum" in prop:
        return "|".join(str(v) for v in prop["enum"] if v is not None)
    if "const" in prop:
        return json.dumps(prop["const"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list[{type_name(prop.get('items', {}))}]"
    if isinstance(kind, list):
        return "|".join(k for k in kind if k != "null")
    return kind
