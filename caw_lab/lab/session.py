"""What a notebook remembers between cells: which database it uses and who it is.

The magics and a ``Workbench()`` built with no database share one session, so
``%caw use scratch.db`` points both at the same file.
"""

from __future__ import annotations

import os
from typing import Any

from caw_lab.tools.client import Client, connect

NOTEBOOK_AGENT = {"name": "notebook", "runtime": "custom", "role": "worker", "capabilities": ["human"]}


class LabSession:
    """A lazily opened client plus the notebook's own agent, registered on first need."""

    def __init__(self, client: Client | None = None) -> None:
        self._client = client
        self.agent_id: str | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect()
        return self._client

    def use(self, db: str | os.PathLike[str] | None) -> Client:
        """Switch databases; the notebook agent belongs to the old one, so forget it."""
        if self._client is not None:
            self._client.close()
        self._client = connect(db)
        self.agent_id = None
        return self._client

    def call(self, tool: str, /, **params: Any) -> Any:
        return self.client.call(tool, **params)

    def notebook_agent(self) -> str:
        """The id of the agent that stands for the person at this notebook."""
        if self.agent_id is None:
            self.agent_id = self.call("agent_register", **NOTEBOOK_AGENT, metadata={"pid": os.getpid()})["id"]
        return self.agent_id


_current = LabSession()


def current() -> LabSession:
    return _current
