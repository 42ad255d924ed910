"""OpenAI function calling over the same tool registry: definitions out, tool calls in.

``tool_definitions()`` is the ``tools=[...]`` list for a chat completion; ``dispatch``
runs one tool call the model made and returns the ``role: tool`` message to append.
Schemas are inlined (no ``$ref``) because many OpenAI-compatible servers reject
references, and every failure — bad JSON in ``arguments`` included — comes back as
the CawError JSON in the message, so the model can correct itself and retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from caw_lab.errors import CawError, invalid_input
from caw_lab.tools import Tool, load_all
from caw_lab.tools.client import Client, connect


def tool_definitions() -> list[dict[str, Any]]:
    return [definition(spec) for spec in load_all().values()]


def definition(spec: Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.description,
            "parameters": inline_refs(spec.input_schema()),
        },
    }


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every ``#/$defs/...`` reference replaced by its definition."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = resolve(defs[node["$ref"].split("/")[-1]])
                return {**target, **{k: resolve(v) for k, v in node.items() if k != "$ref"}}
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def dispatch(tool_call: Any, client: Client | None = None) -> dict[str, Any]:
    """Run one tool call (an SDK object or a dict, with or without the ``function`` envelope)."""
    call_id, name, arguments = unpack(tool_call)
    try:
        params = parse_arguments(arguments)
        if client is None:
            with connect() as own:
                result = own.call(name, **params)
        else:
            result = client.call(name, **params)
        content = json.dumps(result, default=str)
    except CawError as err:
        content = err.to_json()
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def unpack(tool_call: Any) -> tuple[str | None, str, Any]:
    """(id, name, arguments) from a chat tool call, its inner ``function``, or a Responses ``function_call``."""
    function = field(tool_call, "function") or tool_call
    call_id = field(tool_call, "call_id") or field(tool_call, "id")  # a Responses item's id is not its call id
    return call_id, field(function, "name"), field(function, "arguments")


def field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """The model's JSON string (or an already-decoded mapping) as keyword arguments."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        decoded = json.loads(arguments)
    except (TypeError, ValueError) as exc:
        raise invalid_input(
            f"Tool call arguments are not valid JSON: {exc}", "Send arguments as one JSON object string."
        ) from None
    if not isinstance(decoded, dict):
        raise invalid_input("Tool call arguments must be a JSON object", "Send arguments as one JSON object string.")
    return decoded
