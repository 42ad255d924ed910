"""One follower of the change feed for every WebSocket client of a server.

The hub polls the ``events`` table by sequence number (``events_list``, a tool like any
other) every ``interval_s`` while at least one client is connected, and fans each event
out to the clients subscribed to a channel it belongs to (``feed.channels_of``). One
query per tick serves every client, however many there are; a change made by any process
(the CLI, another server, an agent over stdio) is in the table, so it reaches them.

Each subscription keeps the sequence number of the last event it was given. Subscribing
with ``since`` first replays the channel's events after it from the table, then joins
the live stream: the switch happens without awaiting anything between the last replayed
page and marking the subscription live, and an event is given to a subscription only if
its number is past the subscription's, so a reconnecting client misses nothing and gets
nothing twice.

A client that does not read keeps at most ``QUEUE`` messages waiting; past that it is
disconnected (code 4008) rather than holding memory or slowing the others, and resumes
from its last ``seq`` when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from caw_lab.errors import CawError
from caw_lab.store.backend import Backend
from caw_lab.tools import call_tool
from caw_lab.web.feed import channels_of, to_message
from caw_lab.web.tails import Tails

log = logging.getLogger(__name__)
INTERVAL_S = 0.05
PAGE = 1000
QUEUE = 10_000
MAX_REPLAY = 100_000
"""Most events one resume replays; a client further behind is told to reload (``resync``)."""
REPLAYING = -1
TOO_SLOW = 4008
_ids = itertools.count(1)


@dataclass(eq=False)
class Client:
    """One connection: its outbox, its subscriptions (channel -> last ``seq`` given, ``REPLAYING``
    while a resume catches up), and the name it shows other viewers."""

    name: str = "anonymous"
    id: int = field(default_factory=lambda: next(_ids))
    outbox: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    channels: dict[str, int] = field(default_factory=dict)
    overflowed: bool = False

    def offer(self, message: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)  # the sender closes the connection


def channel_filter(channel: str) -> dict[str, Any]:
    """The events_list filter that narrows a replay to a channel (agents' channels filter afterwards)."""
    kind, _, ident = channel.partition(":")
    return {"workflow": {"workflow_id": ident}, "task": {"task_id": ident}}.get(kind, {})


class Hub:
    def __init__(self, db: Backend, interval_s: float = INTERVAL_S) -> None:
        self.db = db
        self.interval_s = interval_s
        self.clients: set[Client] = set()
        self.cursor = 0
        self.poller: asyncio.Task[None] | None = None
        self.starting = asyncio.Lock()
        self.tails = Tails(self.call)

    async def call(self, tool: str, args: dict[str, Any]) -> Any:
        return await anyio.to_thread.run_sync(call_tool, self.db, tool, args)

    # -- clients -----------------------------------------------------------------------

    async def join(self, client: Client) -> None:
        async with self.starting:  # two first clients at once must not start two pollers
            if self.poller is None or self.poller.done():
                self.cursor = (await self.call("events_list", {"limit": 1}))["head"]
                self.poller = asyncio.create_task(self.poll(), name="caw-web-hub")
            self.clients.add(client)

    async def leave(self, client: Client) -> None:
        self.clients.discard(client)
        for channel in list(client.channels):
            await self.unsubscribe(client, channel)
        if not self.clients and self.poller is not None:
            self.poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.poller
            self.poller = None
            self.tails.clear()

    async def subscribe(self, client: Client, channel: str, since: int | None) -> None:
        if since is None:
            client.channels[channel] = self.cursor
        else:
            client.channels[channel] = REPLAYING
            await self.replay(client, channel, since)
        if channel.startswith(("workflow:", "task:")):
            await self.tails.watch_channel(channel)
        if channel.startswith("workflow:"):
            self.presence(channel)

    async def unsubscribe(self, client: Client, channel: str) -> None:
        if client.channels.pop(channel, None) is not None and channel.startswith("workflow:"):
            self.presence(channel)

    async def replay(self, client: Client, channel: str, since: int) -> None:
        """The channel's events after ``since`` from the table, then live (see the module docstring)."""
        cursor, replayed = since, 0
        while True:
            page = await self.call("events_list", {"since_seq": cursor, "limit": PAGE, **channel_filter(channel)})
            for event in page["events"]:
                if channel in channels_of(event):
                    client.offer(to_message(event))
            replayed += len(page["events"])
            cursor = page["cursor"]
            if cursor >= self.cursor:  # caught up with the live stream: no await between this and going live
                client.channels[channel] = cursor
                return
            if replayed >= MAX_REPLAY:
                client.offer({"type": "resync", "data": {"channel": channel, "seq": self.cursor}})
                client.channels[channel] = self.cursor
                return

    def presence(self, channel: str) -> None:
        """Who views a workflow: every client subscribed to its channel on this server."""
        viewers = [{"id": c.id, "name": c.name} for c in self.clients if channel in c.channels]
        message = {"type": "presence", "channel": channel,
                   "data": {"workflow_id": channel.partition(":")[2], "viewers": viewers}}
        for client in self.clients:
            if channel in client.channels:
                client.offer(message)

    # -- the poller --------------------------------------------------------------------

    async def poll(self) -> None:
        while True:
            try:
                await self.tick()
            except CawError as error:  # the database busy or gone for a moment: try again next tick
                log.warning("change feed poll failed: %s", error.message)
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> None:
        page = await self.call("events_list", {"since_seq": self.cursor, "limit": PAGE})
        for event in page["events"]:
            self.deliver(event)
            self.tails.follow(event)
        self.cursor = max(self.cursor, page["cursor"])
        for message, channels in await self.tails.read():
            self.send(message, channels)

    def deliver(self, event: dict[str, Any]) -> None:
        message, channels, seq = to_message(event), channels_of(event), event["seq"]
        for client in self.clients:
            live = [c for c in channels & client.channels.keys() if client.channels[c] != REPLAYING]
            if live and any(client.channels[c] < seq for c in live):
                client.offer(message)
                for channel in live:
                    client.channels[channel] = max(client.channels[channel], seq)

    def send(self, message: dict[str, Any], channels: set[str]) -> None:
        """A message that is not an event (a log line): to every client on one of its channels, once."""
        for client in self.clients:
            if channels & client.channels.keys():
                client.offer(message)

