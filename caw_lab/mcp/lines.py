"""One line off the stdio wire: the JSON-RPC message it holds, or the error that answers it.

JSON-RPC over stdio has no status codes, so a line the server cannot use must be answered
on the wire or the client waits for ever: a line that is not UTF-8, not JSON, or JSON that
is not a JSON-RPC message gets an error reply, as HTTP answers 400. The reply carries the
request's id whenever one can still be read (so the client's pending call fails instead of
hanging), else ``id: null`` as JSON-RPC 2.0 prescribes:

- not JSON at all: ``-32700`` (parse error), ``id: null``;
- JSON whose bytes are not UTF-8, or whose strings hold a lone surrogate (``"\\ud800"``:
  valid JSON syntax, but not text, which the SDK's parser refuses): ``-32600`` (invalid
  request) with the id;
- JSON that is not a JSON-RPC message: ``-32600``, with the id when it has one;
- a line longer than the reader's limit: ``-32600``, ``id: null`` (its head is not kept).

Blank lines carry no message and get no answer.
"""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types
from pydantic import ValidationError


def read_line(line: bytes) -> types.JSONRPCMessage | types.JSONRPCError | None:
    """The message on ``line``, the error answering it, or None for a blank line."""
    if not line.strip():
        return None
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return unusable_line(line.decode("utf-8", "replace"), "the line is not UTF-8 text")
    try:
        return types.jsonrpc_message_adapter.validate_json(text, by_name=False)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(map(str, problem["loc"]))
        return unusable_line(text, f"{problem['msg']} (at {where})" if where else problem["msg"])


def unusable_line(text: str, why: str) -> types.JSONRPCError:
    """A parse error when ``text`` is not JSON, else an invalid request answered to its id if it has one."""
    try:
        value = json.loads(text)  # lenient where the SDK is strict: lone surrogates pass, to find the id
    except ValueError:
        return error(types.PARSE_ERROR, "Parse error: the line is not JSON", None)
    return error(types.INVALID_REQUEST, f"Invalid request: {why}", request_id(value))


def oversized(limit: int) -> types.JSONRPCError:
    return error(types.INVALID_REQUEST, f"Invalid request: the line is longer than {limit} bytes", None)


def request_id(value: Any) -> types.RequestId | None:
    """The id of a request, if ``value`` is one with a usable id; a response's id is the server's own, not used."""
    if not isinstance(value, dict) or "method" not in value:
        return None
    found = value.get("id")
    if isinstance(found, bool) or not isinstance(found, int | str):
        return None
    if isinstance(found, str) and found.encode("utf-8", "replace").decode("utf-8") != found:
        return None  # an id holding a lone surrogate cannot be sent back
    return found


def error(code: int, message: str, request: types.RequestId | None) -> types.JSONRPCError:
    text = message.encode("utf-8", "replace").decode("utf-8")  # the reply itself must be text
    return types.JSONRPCError(jsonrpc="2.0", id=request, error=types.ErrorData(code=code, message=text))
