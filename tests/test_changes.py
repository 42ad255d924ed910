"""A change sent again after its reply was lost applies once and answers with its first outcome:
on both backends through a backend that loses the first reply, and on D1 through a real HTTP
proxy that forwards a committed write to the local D1 and then drops the connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

import caw_lab
from caw_lab.store.backend import Backend, Row, Statement
from caw_lab.store.d1 import RETRIES, D1Backend
from tests.conftest import REUSED_D1, make_workflow


class LostReply(Backend):
    """A real backend whose next ``lose`` resendable batches are applied, their reply lost, and
    sent again, as the D1 backend does when a connection drops after D1 committed."""

    loses_replies = True

    def __init__(self, inner: Backend) -> None:
        self.inner, self.url, self.lose = inner, inner.url, 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.inner.query(sql, params)

    def batch(self, statements: Sequence[Statement], *, retry: bool = False) -> list[list[Row]]:
        if retry and self.lose:
            self.lose -= 1
            self.inner.batch(statements, retry=retry)
        return self.inner.batch(statements, retry=retry)


def in_progress(client: caw_lab.Client) -> str:
    wf = make_workflow(client, [{"name": "work"}])
    task = wf["tasks"]["work"]
    agent = client.call("agent_register", name="a", runtime="custom")["id"]
    client.call("task_claim", task_id=task, agent_id=agent)
    client.call("task_update_status", id=task, status="planning")
    client.call("task_update_status", id=task, status="in_progress")
    return task


def count(db: Backend, sql: str, *params: Any) -> int:
    return db.scalar(sql, params)


def test_a_resent_change_applies_once_and_answers_as_the_first_send(client: caw_lab.Client) -> None:
    task = in_progress(client)
    lossy = caw_lab.Client(LostReply(client.db))
    lossy.db.lose = 1  # type: ignore[attr-defined]
    checkpoint = lossy.call("checkpoint_add", task_id=task, type="progress", summary="once")
    assert checkpoint == {"id": checkpoint["id"], "sequence": 1}
    assert count(client.db, "SELECT COUNT(*) FROM checkpoints WHERE task_id = ?", task) == 1
    assert count(client.db, "SELECT COUNT(*) FROM events WHERE kind = 'checkpoint.added'") == 1

    lossy.db.lose = 1  # type: ignore[attr-defined]
    created = lossy.call("workflow_create", name="resent", source_type="prompt", source_content="x")
    assert client.call("workflow_get", id=created["id"])["name"] == "resent"
    assert count(client.db, "SELECT COUNT(*) FROM workflows WHERE name = 'resent'") == 1
    assert count(client.db, "SELECT COUNT(*) FROM events WHERE kind = 'workflow.created'") == 2
    assert count(client.db, "SELECT COUNT(*) FROM events WHERE kind = 'change.replayed'") == 0


def test_a_resent_change_whose_rows_were_lost_says_so(client: caw_lab.Client) -> None:
    """``message_mark_read`` reports how many rows its guard changed; that count went with the
    lost reply, so the answer is CHANGE_REPLY_LOST, and the message was read once."""
    sender = client.call("agent_register", name="s", runtime="custom")["id"]
    reader = client.call("agent_register", name="r", runtime="custom")["id"]
    message = client.call("message_send", sender_id=sender, recipient_id=reader, message_type="query", body="hi")
    lossy = caw_lab.Client(LostReply(client.db))
    lossy.db.lose = 1  # type: ignore[attr-defined]
    with pytest.raises(caw_lab.CawError) as info:
        lossy.call("message_mark_read", message_ids=[message["id"]])
    assert info.value.code == "CHANGE_REPLY_LOST" and not info.value.recoverable
    assert count(client.db, "SELECT COUNT(*) FROM events WHERE kind = 'message.read'") == 1
    assert client.db.scalar("SELECT status FROM messages WHERE id = ?", (message["id"],)) == "read"


@dataclass
class Proxy:
    """Counts the change batches it forwards; drops a connection before or after forwarding."""

    api: str
    drop_before: int = 0
    drop_after: int = 0
    changes: int = 0
    forwarded: int = 0


@pytest.fixture
def proxy(local_d1: Any) -> Iterator[Proxy]:
    upstream = f"http://127.0.0.1:{local_d1.port}"
    state = Proxy(api="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers["content-length"]))
            change = b'"batch"' in body and b"INSERT INTO events" in body
            state.changes += change
            if change and state.drop_before:
                state.drop_before -= 1
                self.close_connection = True
                return
            reply = httpx.post(upstream + self.path, content=body, headers={
                "authorization": self.headers["authorization"], "content-type": "application/json"})
            state.forwarded += change
            if change and state.drop_after:
                state.drop_after -= 1  # committed by D1; the client never hears of it
                self.close_connection = True
                return
            self.send_response(reply.status_code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.api = f"http://127.0.0.1:{server.server_port}/client/v4"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def test_d1_write_whose_reply_is_dropped_after_commit_is_retried_and_applied_once(
    d1_client: caw_lab.Client, local_d1: Any, proxy: Proxy
) -> None:
    task = in_progress(d1_client)
    with caw_lab.Client(D1Backend("local", REUSED_D1, local_d1.token, proxy.api)) as through:
        proxy.drop_after = 1
        checkpoint = through.call("checkpoint_add", task_id=task, type="progress", summary="once")
        assert (proxy.changes, proxy.forwarded) == (2, 2), "the write should have been committed, then resent"
        stored = d1_client.db.query("SELECT id, sequence FROM checkpoints WHERE task_id = ?", (task,))
        assert stored == [checkpoint] and checkpoint["sequence"] == 1
        assert count(d1_client.db, "SELECT COUNT(*) FROM events WHERE kind = 'checkpoint.added'") == 1

        proxy.drop_before = 1  # lost on the way there: the resend is the one that applies
        second = through.call("checkpoint_add", task_id=task, type="progress", summary="twice")
        assert second["sequence"] == 2
        assert count(d1_client.db, "SELECT COUNT(*) FROM events WHERE kind = 'checkpoint.added'") == 2


def test_d1_write_whose_every_reply_is_dropped_is_found_in_the_feed(
    d1_client: caw_lab.Client, local_d1: Any, proxy: Proxy
) -> None:
    with caw_lab.Client(D1Backend("local", REUSED_D1, local_d1.token, proxy.api)) as through:
        proxy.drop_after = RETRIES
        created = through.call("workflow_create", name="lost", source_type="prompt", source_content="x")
        assert proxy.forwarded == RETRIES
        assert d1_client.db.query("SELECT id FROM workflows") == [{"id": created["id"]}]
        assert count(d1_client.db, "SELECT COUNT(*) FROM events") == 1
