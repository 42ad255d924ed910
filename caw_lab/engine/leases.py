"""Leases: an agent's time-limited hold on files, a workflow or a name, with fencing tokens.

A resource is ``file:<glob>`` (a repository-relative glob, engine/globs.py),
``file:<repository_id>:<glob>``, ``workflow:<id>`` or ``named:<name>``. Two leases conflict
when they are in the same *scope* (file leases of one repository, or the one workflow or
name), at least one is exclusive, and, for files, their globs can match a common path.

A lease is *live* until its ``ttl_ms`` passes or its holder goes stale (the agent stored
offline or silent past ``agents.AGENT_TIMEOUT_MS``), whichever comes first; until then
only its holder may renew or release it. A dead lease stays in the table until a
conflicting grant takes it over, which writes ``lease.expired`` for it in the same batch.

**Fencing tokens.** A grant's token is the ``seq`` of its ``lease.acquired`` event: one
strictly increasing sequence per database, on SQLite and D1 alike, with no counter to
keep. A write made on behalf of a lease (``fenced``) re-checks inside its own batch that
the lease is still live, so a holder that lost its lease cannot write (``LEASE_STALE``).

**Granting is read, decide, take** (as claims are). The read is one statement: the
leases that may conflict (same scope, compatible modes, literal prefixes that could meet)
and the feed's head ``seq``. The decision is Python's,
because only Python can decide glob overlap exactly: a live conflict refuses the grant,
dead conflicts are taken over. The take is one batch whose guard repeats what the
decision relied on: no lease that could conflict was granted since the head (any newer
grant has a larger token; the same literal-prefix test rules most non-overlapping globs out),
and the dead leases to take over are all still there and still dead. When the guard
misses, the grant is read and decided again.

Inside the batch the events are in the order things happened: ``lease.expired`` for each
grant taken over, then ``lease.acquired``. So a takeover's guard is the DELETE of the dead
grants (its first ``lease.expired`` is the change's event), and a plain grant's guard is
the holder's sign of life (its ``lease.acquired`` is the change's event).

Time is the caller's clock (``ids.now_ms``), as for agents' heartbeats: processes sharing
a D1 database need clocks in step to well within their leases' ttl.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from caw_lab.engine.agents import GIVE_UP_AFTER, stale_cutoff
from caw_lab.engine.changes import Committed, Event, Gated, also, commit, raw
from caw_lab.engine.globs import Glob, GlobError, overlap, parse
from caw_lab.engine.rows import require
from caw_lab.errors import CawError, conflict, invalid_input, not_found
from caw_lab.ids import new_id, now_ms
from caw_lab.limits import MAX_LEASE_TTL_MS, MAX_LEASES_PER_CLAIM, exceeded
from caw_lab.store.backend import Backend, Statement
from caw_lab.store.reads import Reads

CLAIM_TTL_MS = 10 * 60 * 1000
"""A claim's file leases last this long unless the claim says otherwise; checkpoints renew them."""
MAX_NAME_CHARS = 200
MODES = ("exclusive", "shared")
KINDS = ("file", "workflow", "named")
TAKE_ATTEMPTS = 4 * GIVE_UP_AFTER
"""Grants retry more than other changes: under contention a missed guard is the common case."""
REPOSITORY_SCOPED = re.compile(r"(rp_[0-9a-z]{12}):(.*)", re.S)


# -- resources ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    text: str
    """Canonical: how it is stored and compared."""
    scope: str
    glob: Glob | None = None
    repository_id: str | None = None
    workflow_id: str | None = None

    @property
    def prefix(self) -> str:
        return self.glob.prefix if self.glob else ""


def bad_resource(text: str, why: str) -> CawError:
    return invalid_input(
        f"Resource {text[:200]!r} {why}",
        "Use file:<repository-relative glob>, file:<repository_id>:<glob>, workflow:<id> or named:<name>.",
    )


@functools.lru_cache(maxsize=4096)
def parse_resource(text: str) -> Resource:
    """The resource ``text`` names, checked for syntax only (``resolve`` also checks ids exist)."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS:
        raise bad_resource(text, f"is of no known kind (one of: {', '.join(KINDS)})")
    if kind == "file":
        scoped = REPOSITORY_SCOPED.fullmatch(rest)
        repository_id, pattern = (scoped.group(1), scoped.group(2)) if scoped else (None, rest)
        try:
            glob = parse(pattern)
        except GlobError as exc:
            raise bad_resource(text, f"is not a repository-relative glob: {exc}") from None
        canonical = f"file:{repository_id}:{glob.text}" if repository_id else f"file:{glob.text}"
        return Resource(canonical, f"file:{repository_id or ''}", glob, repository_id=repository_id)
    if not rest or len(rest) > MAX_NAME_CHARS or any(ord(ch) < 32 or ord(ch) == 127 for ch in rest):
        raise bad_resource(text, f"needs a {kind} of 1 to {MAX_NAME_CHARS} characters without control characters")
    return Resource(text, text, workflow_id=rest if kind == "workflow" else None)


def resolve(db: Backend, text: str, agent_id: str) -> Resource:
    """``parse_resource``, and the repository or workflow it names must exist. Ids are checked
    first, as every tool does: an unknown agent is AGENT_NOT_FOUND whatever else is wrong."""
    try:
        resource = parse_resource(text)
    except CawError:
        require(db, "agent", agent_id)
        raise
    if resource.repository_id:
        require(db, "repository", resource.repository_id)
    if resource.workflow_id:
        require(db, "workflow", resource.workflow_id)
    return resource


def check_ttl(ttl_ms: int) -> None:
    if not 1 <= ttl_ms <= MAX_LEASE_TTL_MS:
        raise invalid_input(
            f"ttl_ms must be between 1 and {MAX_LEASE_TTL_MS} (an hour), not {ttl_ms}",
            "Ask for a shorter lease and renew it (lease_renew) while you work.",
        )


@dataclass(frozen=True)
class Want:
    resource: Resource
    mode: str = "exclusive"


def conflicts(want: Want, row: dict[str, Any]) -> bool:
    if row["scope"] != want.resource.scope or (want.mode == "shared" and row["mode"] == "shared"):
        return False
    if want.resource.glob is None:
        return True
    held = parse_resource(row["resource"]).glob
    assert held is not None
    return overlap(want.resource.glob, held) is not None


# -- liveness ----------------------------------------------------------------------------


def live(alias: str) -> str:
    """SQL true while the lease aliased ``alias`` holds; binds ``live_params(now)``."""
    return (
        f"({alias}.expires_at > ? AND EXISTS (SELECT 1 FROM agents h WHERE h.id = {alias}.agent_id "
        "AND h.status != 'offline' AND COALESCE(h.last_heartbeat, h.created_at) >= ?))"
    )


def live_params(now: int) -> tuple[int, int]:
    return now, stale_cutoff(now)


def fenced(token: int, task_id: str | None, now: int) -> tuple[str, tuple[Any, ...]]:
    """SQL (and parameters) true while lease ``token`` is live and, if it was taken for a task,
    that task is ``task_id``: the condition a write made on behalf of a lease repeats."""
    sql = (
        f"EXISTS (SELECT 1 FROM leases f WHERE f.fencing_token = ? AND {live('f')} "
        "AND (f.task_id IS NULL OR f.task_id = ?))"
    )
    return sql, (token, *live_params(now), task_id)


def stale(db: Backend, token: int) -> CawError:
    """Why a fenced write was refused: the token was never granted, or its lease no longer holds."""
    if not issued(db, token):
        return not_found("lease", str(token))
    return CawError(
        "LEASE_STALE",
        f"The lease with fencing token {token} is no longer held: it was released, expired, or its holder went stale",
        recoverable=False,
        suggestion="Acquire the resource again (lease_acquire) and redo the work with the new token.",
    )


ISSUED = "SELECT 1 AS found FROM events WHERE seq = ? AND kind = 'lease.acquired'"
"""A row when a fencing token was ever issued (its ``lease.acquired`` event's seq)."""


def issued(db: Backend, token: int) -> bool:
    return db.one(ISSUED, (token,)) is not None


# -- read, decide, take --------------------------------------------------------------------


@dataclass
class Facts:
    head: int
    agent_status: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Decision:
    blocking: list[dict[str, Any]]
    """Live leases in the way: the grant is refused."""
    expired: list[dict[str, Any]]
    """Dead leases in the way: the grant takes them over."""


WANTED = """(SELECT json_extract(value, '$.scope') AS scope, json_extract(value, '$.prefix') AS prefix,
                    json_extract(value, '$.mode') AS mode FROM json_each(?)) w"""
"""The wanted leases, passed as one JSON parameter (D1 binds at most 100 parameters a statement)."""
MAY_CONFLICT = """n.scope = w.scope AND NOT (n.mode = 'shared' AND w.mode = 'shared')
  AND (substr(w.prefix, 1, length(n.prefix)) = n.prefix OR substr(n.prefix, 1, length(w.prefix)) = w.prefix)"""
"""SQL true when held lease ``n`` may conflict with wanted lease ``w``: a sound over-approximation,
since two globs can share a path only if one's literal prefix starts the other's."""


def wanted(wants: Sequence[Want]) -> str:
    return json.dumps([{"scope": w.resource.scope, "prefix": w.resource.prefix, "mode": w.mode} for w in wants])


def read(db: Backend, agent_id: str, wants: Sequence[Want], now: int) -> Facts:
    """The leases that may conflict with ``wants``, with their liveness, the feed's head and the
    agent's status, in one statement."""
    rows = db.query(
        f"""SELECT h.head, h.agent_status, l.*, CASE WHEN l.id IS NULL THEN 0 ELSE {live("l")} END AS live
            FROM (SELECT (SELECT COALESCE(MAX(seq), 0) FROM events) AS head,
                         (SELECT status FROM agents WHERE id = ?) AS agent_status) h
            LEFT JOIN leases l ON l.id IN (SELECT n.id FROM leases n JOIN {WANTED} ON {MAY_CONFLICT})
            ORDER BY l.fencing_token""",
        (*live_params(now), agent_id, wanted(wants)),
    )
    return Facts(rows[0]["head"], rows[0]["agent_status"], [r for r in rows if r["id"] is not None])


def require_agent(facts: Facts, agent_id: str) -> None:
    if facts.agent_status is None:
        raise not_found("agent", agent_id)
    if facts.agent_status == "offline":
        raise CawError(
            "INVALID_STATE",
            f"Agent {agent_id} is offline; an offline agent holds no leases",
            recoverable=True,
            suggestion="Register again (agent_register) and acquire with the new id.",
        )


def decide(wants: Sequence[Want], facts: Facts) -> Decision:
    """Which held leases stand in the way of all of ``wants`` (a grant is all of them or none)."""
    blocking: dict[str, dict[str, Any]] = {}
    expired: dict[str, dict[str, Any]] = {}
    for row in facts.rows:
        if any(conflicts(want, row) for want in wants):
            (blocking if row["live"] else expired)[row["id"]] = row
    return Decision(list(blocking.values()), list(expired.values()))


def unchanged(wants: Sequence[Want], facts: Facts, decision: Decision, now: int) -> tuple[str, tuple[Any, ...]]:
    """The guard's condition that the decision still stands (see the module docstring)."""
    ids = [r["id"] for r in decision.expired]
    sql = f"""NOT EXISTS (SELECT 1 FROM leases n JOIN {WANTED} ON {MAY_CONFLICT} WHERE n.fencing_token > ?)
      AND (SELECT COUNT(*) FROM leases d WHERE d.id IN (SELECT value FROM json_each(?)) AND NOT {live("d")}) = ?"""
    return sql, (wanted(wants), facts.head, json.dumps(ids), *live_params(now), len(ids))


def expired_event(row: dict[str, Any], now: int, taker: str) -> Event:
    """``lease.expired`` for a dead lease being taken over: why it ended (its ttl passed, or its
    holder went stale before that), and by whom it is taken."""
    payload = {
        "lease_id": row["id"],
        "resource": row["resource"],
        "mode": row["mode"],
        "fencing_token": row["fencing_token"],
        "expires_at": row["expires_at"],
        "reason": "ttl" if row["expires_at"] <= now else "holder_stale",
        "taken_over_by": taker,
    }
    return Event("lease.expired", row["workflow_id"], row["task_id"], row["agent_id"], payload)


def expiry(rows: Sequence[dict[str, Any]], now: int, taker: str, *, delete: bool = True) -> list[Gated]:
    """Delete dead leases being taken over (the guard made sure they are there) and record each."""
    statements = []
    if delete and rows:
        ids = json.dumps([r["id"] for r in rows])
        statements.append(raw("DELETE FROM leases WHERE id IN (SELECT value FROM json_each(?)) AND", (ids,)))
    return statements + [also(expired_event(row, now, taker)) for row in rows]


@dataclass(frozen=True)
class Grant:
    """A lease about to be granted: its row (less its token) and its event."""

    row: dict[str, Any]

    @property
    def event(self) -> Event:
        payload = {k: self.row[k] for k in ("resource", "mode", "ttl_ms", "expires_at")}
        return Event(
            "lease.acquired",
            self.row["workflow_id"],
            self.row["task_id"],
            self.row["agent_id"],
            {"lease_id": self.row["id"], **payload},
        )

    @property
    def insert(self) -> Gated:
        """The row, its token the seq of the ``lease.acquired`` event written just before it."""
        columns = ", ".join(self.row)
        marks = ", ".join("?" for _ in self.row)
        return Gated(
            f"INSERT INTO leases ({columns}, fencing_token) SELECT {marks}, (SELECT MAX(seq) FROM events) WHERE",
            tuple(self.row.values()),
            returning="id, resource, mode, agent_id, task_id, fencing_token, expires_at",
        )

    @property
    def statements(self) -> list[Gated]:
        return [also(self.event), self.insert]


def grants(
    wants: Sequence[Want],
    agent_id: str,
    ttl_ms: int,
    now: int,
    task_id: str | None = None,
    workflow_id: str | None = None,
) -> list[Grant]:
    return [
        Grant(
            {
                "id": new_id("lease"),
                "resource": w.resource.text,
                "scope": w.resource.scope,
                "prefix": w.resource.prefix,
                "mode": w.mode,
                "agent_id": agent_id,
                "task_id": task_id,
                "workflow_id": workflow_id or w.resource.workflow_id,
                "ttl_ms": ttl_ms,
                "acquired_at": now,
                "expires_at": now + ttl_ms,
            }
        )
        for w in wants
    ]


def granted(db: Backend, done: Committed, grants: Sequence[Grant]) -> list[dict[str, Any]]:
    """The leases a committed change inserted: from its statements' RETURNING rows, or, when an
    earlier send applied it and its reply was lost (D1), read back from the table."""
    if not done.replayed:
        return [r for result in done.rows for r in result if "fencing_token" in r]
    ids = json.dumps([g.row["id"] for g in grants])
    return db.query("SELECT * FROM leases WHERE id IN (SELECT value FROM json_each(?)) ORDER BY fencing_token", (ids,))


def blocked_answer(decision: Decision) -> dict[str, Any]:
    first = decision.blocking[0]
    return {
        "granted": False,
        "held_by": first["agent_id"],
        "expires_at": first["expires_at"],
        "conflicts": [held_view(r) for r in decision.blocking],
    }


def held_view(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("resource", "mode", "agent_id", "task_id", "fencing_token", "expires_at")}


# -- the lease tools -----------------------------------------------------------------------


def acquire(db: Backend, resource: str, agent_id: str, ttl_ms: int, mode: str = "exclusive") -> dict[str, Any]:
    """``{granted: true, fencing_token, expires_at}``, or ``{granted: false, held_by, expires_at}``
    naming the live lease in the way (``conflicts`` lists them all)."""
    check_ttl(ttl_ms)
    if mode not in MODES:
        raise invalid_input(f"Unknown lease mode {mode!r}", f"Use one of: {', '.join(MODES)}.")
    want = Want(resolve(db, resource, agent_id), mode)
    for _ in range(TAKE_ATTEMPTS):
        now = now_ms()
        facts = read(db, agent_id, [want], now)
        require_agent(facts, agent_id)
        decision = decide([want], facts)
        if decision.blocking:
            return blocked_answer(decision)
        done = take(db, want, agent_id, ttl_ms, facts, decision, now)
        if done is not None:
            return {"granted": True, **done}
    raise conflict(f"Leases on {resource} kept changing while acquiring it")


def take(
    db: Backend, want: Want, agent_id: str, ttl_ms: int, facts: Facts, decision: Decision, now: int
) -> dict[str, Any] | None:
    condition, params = unchanged([want], facts, decision, now)
    grant = grants([want], agent_id, ttl_ms, now)[0]
    alive = raw(
        "UPDATE agents SET last_heartbeat = ?, updated_at = ? WHERE id = ? AND status != 'offline' AND",
        (now, now, agent_id),
    )
    if decision.expired:
        first, *rest = decision.expired
        guard = Statement(
            f"DELETE FROM leases WHERE id IN (SELECT value FROM json_each(?)) AND {condition} "
            "AND EXISTS (SELECT 1 FROM agents WHERE id = ? AND status != 'offline')",
            (json.dumps([r["id"] for r in decision.expired]), *params, agent_id),
        )
        then = [*expiry(rest, now, agent_id, delete=False), alive, *grant.statements]
        done = commit(db, expired_event(first, now, agent_id), guard=guard, then=then)
    else:
        guard = Statement(
            "UPDATE agents SET last_heartbeat = ?, updated_at = ? WHERE id = ? AND status != 'offline' "
            f"AND {condition}",
            (now, now, agent_id, *params),
        )
        done = commit(db, grant.event, guard=guard, then=[grant.insert])
    if done is None:
        return None
    row = granted(db, done, [grant])[0]
    return {"fencing_token": row["fencing_token"], "expires_at": row["expires_at"], "lease_id": row["id"]}


def holding(db: Backend, resource: str, agent_id: str) -> Resource:
    """Check the call's parts before a renew or release: the agent exists, the resource parses."""
    require(db, "agent", agent_id)
    return parse_resource(resource)


def refusal(db: Backend, resource: Resource, agent_id: str, token: int) -> CawError:
    """Why a renew or release of lease ``token`` matched nothing."""
    now = now_ms()
    row = db.one(f"SELECT l.*, {live('l')} AS live FROM leases l WHERE l.fencing_token = ?", (*live_params(now), token))
    if row is None or not row["live"]:
        return stale(db, token)
    if row["resource"] != resource.text:
        return invalid_input(
            f"Fencing token {token} is for {row['resource']}, not {resource.text}",
            "Pass the resource the token was granted for.",
        )
    return CawError(
        "NOT_LEASE_HOLDER",
        f"Lease {token} on {resource.text} is held by {row['agent_id']}, not {agent_id}",
        recoverable=False,
        suggestion="Only the holder of a lease can renew or release it.",
    )


def renew(db: Backend, resource: str, agent_id: str, token: int, ttl_ms: int) -> dict[str, Any]:
    check_ttl(ttl_ms)
    parsed = holding(db, resource, agent_id)
    now = now_ms()
    guard = Statement(
        f"UPDATE leases SET expires_at = ?, ttl_ms = ? WHERE fencing_token = ? AND resource = ? AND agent_id = ? "
        f"AND {live('leases')}",
        (now + ttl_ms, ttl_ms, token, parsed.text, agent_id, *live_params(now)),
    )
    payload = {"resource": parsed.text, "fencing_token": token, "ttl_ms": ttl_ms, "expires_at": now + ttl_ms}
    done = commit(db, Event("lease.renewed", parsed.workflow_id, agent_id=agent_id, payload=payload), guard=guard)
    if done is None:
        raise refusal(db, parsed, agent_id, token)
    return {"success": True, "fencing_token": token, "expires_at": now + ttl_ms}


def release(db: Backend, resource: str, agent_id: str, token: int) -> dict[str, Any]:
    parsed = holding(db, resource, agent_id)
    now = now_ms()
    guard = Statement(
        f"DELETE FROM leases WHERE fencing_token = ? AND resource = ? AND agent_id = ? AND {live('leases')}",
        (token, parsed.text, agent_id, *live_params(now)),
    )
    payload = {"resource": parsed.text, "fencing_token": token}
    if commit(db, Event("lease.released", parsed.workflow_id, agent_id=agent_id, payload=payload), guard=guard) is None:
        raise refusal(db, parsed, agent_id, token)
    return {"success": True}


def check(db: Backend, resource: str, token: int) -> dict[str, Any]:
    """``{valid, held_by, expires_at}``: whether lease ``token`` on ``resource`` still holds, and
    who holds the resource (the token's holder when valid, else the oldest live lease on it)."""
    parsed = parse_resource(resource)
    reads = Reads(db)
    found = reads.one(ISSUED, (token,))
    holders = reads.query(
        f"SELECT agent_id, fencing_token, expires_at FROM leases l WHERE l.resource = ? AND {live('l')} "
        "ORDER BY fencing_token",
        (parsed.text, *live_params(now_ms())),
    )
    reads.run()
    if found() is None:
        raise not_found("lease", str(token))
    rows = holders()
    mine = next((r for r in rows if r["fencing_token"] == token), None)
    if mine is not None:
        return {"valid": True, "held_by": mine["agent_id"], "expires_at": mine["expires_at"]}
    return {
        "valid": False,
        "held_by": rows[0]["agent_id"] if rows else None,
        "expires_at": rows[0]["expires_at"] if rows else None,
    }


def list_leases(
    db: Backend,
    resource_prefix: str | None = None,
    agent_id: str | None = None,
    include_expired: bool = False,
    limit: int = 1000,
) -> dict[str, Any]:
    """Leases in token order (oldest grant first), live ones only unless ``include_expired``."""
    now = now_ms()
    where, params = ["1 = 1"], []
    if resource_prefix:
        where.append("substr(l.resource, 1, length(?)) = ?")
        params += [resource_prefix, resource_prefix]
    if agent_id:
        where.append("l.agent_id = ?")
        params.append(agent_id)
    rows = db.query(
        f"SELECT l.*, {live('l')} AS live FROM leases l WHERE {' AND '.join(where)} ORDER BY l.fencing_token LIMIT ?",
        [*live_params(now), *params, limit],
    )
    shown = [{**{k: r[k] for k in r if k not in ("scope", "prefix")}, "live": bool(r["live"])} for r in rows]
    return {"leases": [r for r in shown if include_expired or r["live"]]}


# -- leases held for a task ----------------------------------------------------------------


def task_wants(task: dict[str, Any]) -> list[Want]:
    """Exclusive file leases on a task's ``files_likely_affected``, in its repository's scope."""
    files = task.get("files_likely_affected") or []
    if isinstance(files, str):
        files = json.loads(files)
    if len(files) > MAX_LEASES_PER_CLAIM:
        raise exceeded(f"Task {task['id']} names {len(files)} files; a claim leases at most {MAX_LEASES_PER_CLAIM}",
                       "Name the files with fewer, broader globs (src/**).", limit=MAX_LEASES_PER_CLAIM,
                       requested=len(files))
    repository = task.get("repository_id")
    wants = []
    for path in dict.fromkeys(files):
        text = f"file:{repository}:{path}" if repository else f"file:{path}"
        try:
            wants.append(Want(parse_resource(text)))
        except CawError as exc:
            raise invalid_input(
                f"Task {task['id']}'s file {path[:200]!r} cannot be leased: {exc.message}",
                "Fix files_likely_affected: repository-relative paths or globs.",
            ) from None
    return wants


def leasable(task: dict[str, Any]) -> bool:
    """Whether a claim could lease the task's files at all (``task_wants`` refuses bad ones)."""
    try:
        return bool(task_wants(task))
    except CawError:
        return False


def in_use(db: Backend, task: dict[str, Any]) -> bool:
    """Whether a live lease of someone else's holds one of the task's files now, so a claim with
    ``lease_files`` would be refused: a cheap look before registering an agent for it."""
    wants = task_wants(task)
    return bool(decide(wants, read(db, "", wants, now_ms())).blocking)


def renew_for_task(task_id: str, now: int) -> Gated:
    """Extend the task's live leases by their own ttl: what a checkpoint does for them."""
    return raw(
        f"UPDATE leases SET expires_at = ? + ttl_ms WHERE task_id = ? AND {live('leases')} AND",
        (now, task_id, *live_params(now)),
    )


def renew_fenced(token: int, task_id: str, now: int) -> Statement:
    """A guard renewing lease ``token`` only while it holds for ``task_id``: a fenced write's check."""
    return Statement(
        f"UPDATE leases SET expires_at = MAX(expires_at, ? + ttl_ms) WHERE fencing_token = ? AND {live('leases')} "
        "AND (task_id IS NULL OR task_id = ?)",
        (now, token, *live_params(now), task_id),
    )


def of_task(db: Backend, task_id: str) -> list[dict[str, Any]]:
    return db.query("SELECT * FROM leases WHERE task_id = ? ORDER BY fencing_token", (task_id,))


def release_for_task(db: Backend, task_id: str, reason: str) -> list[Gated]:
    """Statements releasing the task's leases, each recorded only if it was still there."""
    statements: list[Gated] = []
    for row in of_task(db, task_id):
        statements.append(
            raw("DELETE FROM leases WHERE id = ? AND fencing_token = ? AND", (row["id"], row["fencing_token"]))
        )
        payload = {
            "lease_id": row["id"],
            "resource": row["resource"],
            "fencing_token": row["fencing_token"],
            "reason": reason,
        }
        statements.append(also(Event("lease.released", row["workflow_id"], task_id, row["agent_id"], payload),
                               if_changed=True))
    return statements
