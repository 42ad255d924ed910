"""``/ws``: the reference's WebSocket protocol, fed by the shared ``hub.Hub``.

Client messages (JSON text frames)::

    {"type": "subscribe", "channel": "global" | "workflow:<id>" | "agent:<id>" | "task:<id>", "since": 123?}
    {"type": "unsubscribe", "channel": "..."}
    {"type": "hello", "name": "Ada"}          # the name other viewers see in ``presence``
    {"type": "ping"}

Server messages: the reference's events (``feed``), each with ``seq``; ``agent:log``;
``presence``; ``subscribed``/``unsubscribed`` acknowledgements with the live ``seq``; ``welcome``
on connect; ``error`` for a message refused (the connection stays open); ``resync`` when a
resume reaches back further than the server replays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from caw_lab.errors import CawError, invalid_input
from caw_lab.web.hub import TOO_SLOW, Client, Hub

CHANNEL = re.compile(r"^(global|(workflow|agent|task):[A-Za-z0-9_-]{1,64})$")
MAX_MESSAGE_CHARS = 16 * 1024
MAX_CHANNELS = 256
MAX_NAME = 64


def viewer_name(text: Any) -> str:
    name = " ".join(str(text or "").split())[:MAX_NAME]
    return name or "anonymous"


def parse(text: str) -> dict[str, Any]:
    if len(text) > MAX_MESSAGE_CHARS:
        raise invalid_input(f"Message over {MAX_MESSAGE_CHARS} characters")
    try:
        message = json.loads(text)
    except ValueError:
        raise invalid_input("Messages are JSON objects") from None
    if not isinstance(message, dict):
        raise invalid_input("Messages are JSON objects")
    return message


def channel_of(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    if not isinstance(channel, str) or not CHANNEL.match(channel):
        raise invalid_input(f"Unknown channel {channel!r}",
                            "Use global, workflow:<id>, agent:<id> or task:<id>.")
    return channel


def since_of(message: dict[str, Any]) -> int | None:
    since = message.get("since")
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise invalid_input("since is an event sequence number (an integer >= 0)")
    return since


async def handle(hub: Hub, client: Client, message: dict[str, Any]) -> None:
    kind = message.get("type")
    if kind == "subscribe":
        channel, since = channel_of(message), since_of(message)
        if channel not in client.channels and len(client.channels) >= MAX_CHANNELS:
            raise invalid_input(f"At most {MAX_CHANNELS} channels per connection")
        await hub.subscribe(client, channel, since)
        client.offer({"type": "subscribed", "channel": channel, "seq": client.channels[channel]})
    elif kind == "unsubscribe":
        channel = channel_of(message)
        await hub.unsubscribe(client, channel)
        client.offer({"type": "unsubscribed", "channel": channel})
    elif kind == "hello":
        client.name = viewer_name(message.get("name"))
        for channel in client.channels:
            if channel.startswith("workflow:"):
                hub.presence(channel)
    elif kind == "ping":
        client.offer({"type": "pong", "seq": hub.cursor})
    else:
        raise invalid_input(f"Unknown message type {kind!r}", "Send subscribe, unsubscribe, hello or ping.")


async def pump(websocket: WebSocket, client: Client) -> None:
    """The client's outbox to the socket; a ``None`` in it means the client fell too far behind."""
    while (message := await client.outbox.get()) is not None:
        await websocket.send_json(message)
    await websocket.close(TOO_SLOW, "too slow: reconnect and resume from your last seq")


def endpoint(hub: Hub) -> Any:
    async def serve(websocket: WebSocket) -> None:
        await websocket.accept()
        client = Client(name=viewer_name(websocket.query_params.get("name")))
        await hub.join(client)
        client.offer({"type": "welcome", "data": {"client_id": client.id, "seq": hub.cursor}})
        sender = asyncio.create_task(pump(websocket, client))
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    await handle(hub, client, parse(text))
                except CawError as error:
                    client.offer({"type": "error", "data": error.to_dict()})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
            await hub.leave(client)

    return serve
