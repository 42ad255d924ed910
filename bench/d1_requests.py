"""Requests each tool sends to D1 per call: ``python -m bench.d1_requests``.

Every tool is called once, with the arguments tests/test_tool_hints.py gives it, on a fresh
local D1 database (workerd) holding the world that test prepares, through the real D1 backend
counting its HTTP requests. Against Cloudflare each request is a network round trip. Read
tools are held to their bound by tests/test_d1_requests.py; this prints every tool.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import caw_lab
from caw_lab.d1local import LocalD1
from caw_lab.errors import CawError
from caw_lab.store import migrate
from caw_lab.tools import load_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_d1_requests import CountingD1
from test_tool_hints import ARGUMENTS, prepare


def main() -> None:
    tools = load_all()
    names = sorted(tools)
    with tempfile.TemporaryDirectory(prefix="caw-d1-requests-") as tmp:
        root = Path(tmp)
        os.environ["CAW_ALLOWED_ROOTS"] = str(root)
        with LocalD1(root / "d1", [f"db{i}" for i in range(len(names))]) as server:
            print(f"{'tool':<28} {'read_only':>9} {'requests':>8}")
            for i, name in enumerate(names):
                backend = CountingD1("local", f"db{i}", server.token, server.api)
                with caw_lab.Client(backend) as client:
                    migrate(backend)
                    (root / name).mkdir()
                    ids = prepare(client, root / name)
                    before = backend.requests
                    try:
                        client.call(name, **ARGUMENTS[name](ids))
                        note = ""
                    except CawError as err:
                        note = f"  (refused: {err.code})"
                    hints = tools[name].hints
                    print(f"{name:<28} {bool(hints and hints.read_only)!s:>9} {backend.requests - before:>8}{note}",
                          flush=True)


if __name__ == "__main__":
    main()
