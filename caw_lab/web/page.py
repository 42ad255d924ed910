"""The dashboard page at ``/`` and the bundle it loads from ``/static/``.

The page is one HTML shell and the bundle ``extension/build.mjs`` makes from
``extension/src/page/`` (which draws workflows with the notebook widget's own DAG modules),
kept in ``caw_lab/static``. Everything it needs from the server it reads from ``/api`` and
``/ws``; the one thing the shell carries is the task state machine, so the DAG's status
menu offers exactly the moves the engine allows. Every URL in the page is relative, so
the same shell works under a path prefix (Jupyter's ``/caw/``).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from caw_lab.engine.states import TASK_TRANSITIONS
from caw_lab.version import __version__

STATIC = Path(__file__).resolve().parents[1] / "static"
ASSETS = ("page.js", "page.css")
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; worker-src blob:; frame-ancestors 'self'; base-uri 'self'; form-action 'self'")
"""Only this server's own script runs; the DAG's layout worker is a blob the bundle makes."""

SHELL = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>caw</title>
<link rel="stylesheet" href="static/dag_widget.css?v={version}">
<link rel="stylesheet" href="static/page.css?v={version}">
<script id="caw-config" type="application/json">{config}</script>
</head>
<body>
<div id="caw-app"><noscript>The caw dashboard needs JavaScript.</noscript></div>
<script src="static/page.js?v={version}" defer></script>
</body>
</html>
"""


def missing_assets() -> list[str]:
    """Bundle files not built (``make widget`` builds them); the page cannot work without them."""
    return [name for name in ASSETS if not (STATIC / name).is_file()]


def shell() -> str:
    config = {"transitions": {status: list(moves) for status, moves in TASK_TRANSITIONS.items()},
              "version": __version__}
    # In a <script> element only "</" can end it early: escape it so no value can.
    text = json.dumps(config).replace("</", "<\\/")
    return SHELL.format(version=html.escape(__version__), config=text)


async def index(request: Request) -> HTMLResponse:
    return HTMLResponse(shell(), headers={"Content-Security-Policy": POLICY, "Cache-Control": "no-cache",
                                          "X-Content-Type-Options": "nosniff"})


def routes() -> list[BaseRoute]:
    """``GET /`` (the shell) and ``/static/`` (the bundle, the widget's CSS)."""
    return [Route("/", index, methods=["GET"]), Mount("/static", StaticFiles(directory=STATIC), name="static")]
