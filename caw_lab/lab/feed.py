"""Follow the change feed (the ``events_list`` tool) and hand each new batch to listeners, on a
``Clock`` that the Workbench's relative times also run on; name the agents the events and rows
name by id.

Panels never re-read tables on a timer: they refresh when an event says something they
show has changed (DESIGN.md invariant 2). The feed keeps one cursor, so a batch is seen
once however many panels listen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from caw_lab.errors import CawError
from caw_lab.tools.client import Client

Listener = Callable[[list[dict[str, Any]]], None]
log = logging.getLogger(__name__)


class Clock:
    """Calls ``tick`` every ``interval`` seconds in a background thread until stopped.

    The feed polls on one; the Workbench redraws relative times ("heartbeat 3s ago", drawn in
    the kernel, so they would stay as they were at the last event) on another, from rows
    already read (no table is re-read on a timer, DESIGN.md invariant 2).
    """

    def __init__(self, tick: Callable[[], None], interval: float, name: str = "caw-lab-clock") -> None:
        self.tick = tick
        self.interval = interval
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a panel's or a listener's bug must not stop the others' updates
                log.exception("%s: tick failed", self.name)


class EventFeed:
    """A cursor over events; ``poll`` reads what is new, ``start`` does it in the background."""

    def __init__(self, client: Client, interval: float = 0.5) -> None:
        self.client = client
        self.interval = interval
        self.cursor = client.call("events_list", since_seq=0, limit=1)["head"]
        self.listeners: list[Listener] = []
        self.clock = Clock(self._tick, interval, name="caw-lab-feed")
        self._polling = threading.RLock()

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def poll(self) -> list[dict[str, Any]]:
        """Read every event after the cursor and tell the listeners; returns the events."""
        with self._polling:
            events: list[dict[str, Any]] = []
            while True:
                page = self.client.call("events_list", since_seq=self.cursor)
                events += page["events"]
                self.cursor = page["cursor"]
                if self.cursor >= page["head"]:
                    break
            if events:
                for listener in list(self.listeners):
                    listener(events)
            return events

    def start(self) -> None:
        self.clock.start()

    def stop(self) -> None:
        self.clock.stop()

    @property
    def running(self) -> bool:
        return self.clock.running

    def _tick(self) -> None:
        try:
            self.poll()
        except CawError as err:  # a busy database is retried on the next tick
            log.warning("caw-lab feed: %s", err)


class AgentNames:
    """Agent id -> the name people know it by, read once per agent (names do not change); an
    agent since removed keeps its id. Shared by the views, which all show agents by name."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.known: dict[str, str] = {}

    def __call__(self, agent_id: str) -> str:
        if agent_id not in self.known:
            try:
                self.known[agent_id] = str(self.client.call("agent_get", id=agent_id)["name"])
            except CawError:
                return agent_id
        return self.known[agent_id]
