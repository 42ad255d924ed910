"""The dashboard inside Jupyter: a jupyter-server-proxy entry that serves ``caw --server``'s
page and API under Jupyter's own login, with a JupyterLab launcher item.

Jupyter starts one ``caw --server --transport http`` on a free loopback port the first
time someone opens ``<jupyter>/caw/`` and proxies HTTP and the WebSocket to it; Jupyter
checks who may come in (its token or login), so the proxy adds caw's bearer token itself,
a fresh random one per Jupyter server that never reaches the browser. The browser's
``Origin`` passes through untouched: caw's gate still refuses a page from another site.
The database is the one ``caw`` would use in Jupyter's directory (``CAW_DB_PATH`` etc.).

Registered under the ``jupyter_serverproxy_servers`` entry point (pyproject.toml).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from caw_lab.web.page import STATIC

PREFIX = "caw"
"""The dashboard's path under Jupyter's base URL: ``/caw/``."""
RUN_CAW = "from caw_lab.cli import main; main()"


def setup_server() -> dict[str, Any]:
    """jupyter-server-proxy's description of the dashboard process and its launcher item."""
    token = secrets.token_urlsafe(32)
    return {
        "command": [sys.executable, "-c", RUN_CAW, "--server", "--transport", "http", "--host", "127.0.0.1",
                    "--port", "{port}"],
        "environment": {"CAW_TOKEN": token},
        "request_headers_override": {"Authorization": f"Bearer {token}", "Host": "127.0.0.1:{port}"},
        "timeout": 30,
        "absolute_url": False,
        "new_browser_tab": False,
        "launcher_entry": {"enabled": True, "title": "caw dashboard", "icon_path": str(Path(STATIC) / "caw.svg"),
                           "category": "Other"},
    }
