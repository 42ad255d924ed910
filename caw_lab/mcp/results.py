"""A registry call as an MCP tool result, in the shape agents written for the reference read.

Success is the result as JSON text plus ``structuredContent``; every refusal — unknown
tool, arguments that fail the schema, an application error — is an ``isError`` result
whose text is the CawError JSON, never a protocol error, so the model sees the
``suggestion`` and can correct itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import anyio.to_thread
import mcp_types as types

from caw_lab import correlation
from caw_lab.errors import CawError
from caw_lab.json_values import Rendered
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool

log = logging.getLogger(__name__)


async def run_tool(
    db: Backend, name: str, arguments: Mapping[str, Any] | None, *, in_thread: bool = True
) -> types.CallToolResult:
    """Run the tool, in a worker thread when other sessions share the event loop (``in_thread``),
    so one write waiting on SQLite's lock never stalls them. The request's correlation id is
    bound here, so a failure's log line carries the id its span and events carry."""
    with correlation.bound():
        try:
            if in_thread:
                result = await anyio.to_thread.run_sync(call_tool, db, name, arguments)
            else:
                result = call_tool(db, name, arguments)
            return success_result(result)
        except CawError as err:
            return error_result(err)
        except Exception as exc:  # a bug must still reach the agent as a result it can read
            log.exception("tool %s failed", name)
            return error_result(CawError("INTERNAL_ERROR", f"{name} failed: {exc}", False, "Report this as a bug."))


def success_result(result: Any) -> types.CallToolResult:
    """The text is compact JSON, the serialisation ``token_estimate`` counts, so a model reads
    as many tokens as a context said it holds; a loaded context brings the very text counted
    (``Rendered``), which is sent as it is. Tools return JSON values, so the text and the
    structured content say the same; structured content must be an object before protocol
    2026-07-28, so a list is wrapped. NaN or Infinity (which the tools refuse on the way in)
    raise here, and the caller answers INTERNAL_ERROR: never text a client cannot parse."""
    if isinstance(result, Rendered):
        return types.CallToolResult(content=[types.TextContent(text=result.text)], structured_content=result)
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    structured = result if isinstance(result, dict) else {"result": result}
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)


def error_result(err: CawError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=err.to_json())], structured_content=err.to_dict(), is_error=True
    )
