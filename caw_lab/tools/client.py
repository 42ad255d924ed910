"""``caw_lab.connect()``: the in-process client every Python surface starts from."""

from __future__ import annotations

import os
from typing import Any

from caw_lab.store import Backend, open_backend
from caw_lab.tools import Tool, call_tool, load_all


class Client:
    """A database plus the tool registry. ``call`` is the whole API; the rest is sugar."""

    def __init__(self, backend: Backend) -> None:
        self.db = backend
        self.tools: dict[str, Tool] = load_all()

    def call(self, name: str, /, **params: Any) -> Any:
        """Run tool ``name``; returns its JSON-able result or raises ``CawError``."""
        return call_tool(self.db, name, params)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<caw_lab.Client {self.db.url}>"


def connect(db: str | os.PathLike[str] | None = None) -> Client:
    """Open the database ``db`` (a path), else the one the environment names (see store.location)."""
    return Client(open_backend(str(db) if db is not None else None))
