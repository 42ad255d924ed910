"""The JSON schemas a tool advertises, written for the model that reads them on every turn.

pydantic's schema says everything twice: a ``title`` per field repeating its name, a
``"default": null`` and an ``anyOf`` with ``{"type": "null"}`` per optional field (leaving
the field out says the same; the tools still accept null), ``$defs`` for models used once.
An agent pays for each of those tokens on every turn, so the schema is compacted: the same
arguments are understood, in about half the text (bench/RESULTS.md, "Tool list cost").
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from pydantic import BaseModel

NULL = {"type": "null"}
OBJECT: dict[str, Any] = {"type": "object"}


def input_schema(params: type[BaseModel]) -> dict[str, Any]:
    return copy.deepcopy(compacted(params, "validation"))


def output_schema(result: type[BaseModel] | None) -> dict[str, Any]:
    return copy.deepcopy(compacted(result, "serialization")) if result else dict(OBJECT)


@functools.cache
def compacted(model: type[BaseModel], mode: str) -> dict[str, Any]:
    """Built once per model: pydantic takes about a millisecond a schema."""
    return compact(model.model_json_schema(mode=mode))  # type: ignore[arg-type]


def compact(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with definitions used once inlined and pydantic's redundancies dropped. A model's
    docstring (the description of the root and of an inlined definition) is left out: it tells
    a reader of the code why, the tool's description and the fields' tell the model what."""
    defs = schema.get("$defs", {})
    uses = {name: json.dumps(schema).count(f'"#/$defs/{name}"') for name in defs}
    once = {name for name, n in uses.items() if n == 1}
    out = shrink({k: v for k, v in schema.items() if k not in ("$defs", "description")}, defs, once)
    kept = {name: shrink(defs[name], defs, once) for name in defs if name not in once}
    return {**out, "$defs": kept} if kept else out


def shrink(node: Any, defs: dict[str, Any], inline: set[str]) -> Any:
    if isinstance(node, list):
        return [shrink(item, defs, inline) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "").removeprefix("#/$defs/")
    if ref in inline:
        inlined = {k: v for k, v in defs[ref].items() if k != "description"}
        return shrink({**inlined, **{k: v for k, v in node.items() if k != "$ref"}}, defs, inline)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key == "properties":
            out[key] = {name: shrink(optional(prop), defs, inline) for name, prop in value.items()}
        else:
            out[key] = shrink(value, defs, inline)
    return nullable(out)


def optional(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional field that defaults to null, without its null alternative: leaving it out says
    the same. Kept where null means something of its own, which the field's description says."""
    options = prop.get("anyOf")
    if prop.get("default", ...) is not None or not options or NULL not in options or len(options) != 2 \
            or "null" in prop.get("description", "").lower():
        return prop
    other = next(o for o in options if o != NULL)
    return {**{k: v for k, v in prop.items() if k not in ("anyOf", "default")}, **other}


def nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, null]`` as X with ``null`` among its types, when X is one plain type."""
    options = node.get("anyOf")
    if not options or len(options) != 2 or NULL not in options:
        return node
    other = next(o for o in options if o != NULL)
    if not isinstance(other.get("type"), str) or "anyOf" in other or "$ref" in other:
        return node
    merged = {**{k: v for k, v in node.items() if k != "anyOf"}, **other, "type": [other["type"], "null"]}
    if "enum" in merged:
        merged["enum"] = [*merged["enum"], None]
    return merged
