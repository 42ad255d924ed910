"""The least an MCP server over stdio can cost a client: ``python -m bench.floor_server RESULT``.

No SDK and no work: it answers ``initialize``, ``ping`` and ``tools/list`` (one tool,
``echo``, without an output schema, as caw-lab's tools have none) from plain dictionaries,
and every ``tools/call`` with the JSON result in the file ``RESULT``, written out
unchanged. Timing the SDK client against it gives the floor of the client and the pipe
for a result of that size, which ``bench.mcp`` reads caw-lab's figures against.
"""

from __future__ import annotations

import json
import sys
from typing import Any

TOOL = {"name": "echo", "description": "Returns the canned result.", "inputSchema": {"type": "object"}}


def answer(method: str, params: dict[str, Any], canned: Any) -> Any:
    if method == "initialize":
        return {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "floor", "version": "0"}}
    if method == "tools/list":
        return {"tools": [TOOL]}
    if method == "tools/call":
        return canned
    return {}


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        canned = json.load(f)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if "id" not in message:
            continue  # a notification
        result = answer(message["method"], message.get("params") or {}, canned)
        out.write(json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
