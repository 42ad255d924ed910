"""The one tool registry every surface calls: MCP, REST, magics, widgets, OpenAI.

A tool is a function ``fn(db, params)`` whose ``params`` is a pydantic model; the
registry checks the whole call is standard JSON within the input limits
(``json_values``, ``limits``), validates it against that model, enforces the per-session
workflow lock, and turns every refusal into a ``CawError``. Checking the call whole, here,
covers every parameter of every tool, the free-form ones (metadata, detail, config,
context, body, ...) included, without each model having to remember to.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from caw_lab.engine.locks import require_unlocked
from caw_lab.errors import CawError, invalid_input
from caw_lab.json_values import check_arguments
from caw_lab.limits import MAX_FIELD_BYTES, MAX_INTEGER
from caw_lab.store.backend import Backend
from caw_lab.telemetry.tool_calls import Observed
from caw_lab.tools.schemas import input_schema, output_schema

MAX_TEXT_BYTES = MAX_FIELD_BYTES
"""The largest parameter, text or not, counted whole: 1 MiB of UTF-8 (``limits.MAX_FIELD_BYTES``)."""

LockScope = tuple[Literal["workflow", "task", "workspace"], str]


class Params(BaseModel):
    """Base of every tool's input. Unknown keys are ignored, as the reference does."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    @field_validator("*", mode="after")
    @classmethod
    def fits_64_bits(cls, value: Any) -> Any:
        """An integer field given as a float (``1e300``) becomes an int SQLite cannot hold."""
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
            raise ValueError("must fit in 64 bits")
        return value


class Result(BaseModel):
    """Base of every tool's result model, its output schema. Built when a schema is first asked
    for, not when the tools are imported: a call to one tool must not pay for eighty models."""

    model_config = ConfigDict(defer_build=True)


@dataclass(frozen=True)
class Hints:
    """What a tool does to the world, as MCP's tool annotations say it. ``read_only`` means the
    tool writes no event (every change writes one, so a read writes none); ``destructive`` that
    it may overwrite or remove what is there, not only add; ``idempotent`` that a second
    identical call changes nothing more; ``open_world`` that it reaches beyond caw's database
    (GitHub, agent processes)."""

    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: type[Params]
    fn: Callable[[Backend, Any], Any]
    lock: LockScope | None = None
    hints: Hints | None = None
    result: type[BaseModel] | None = None

    @property
    def group(self) -> str:
        """The module the tool lives in (``agent``, ``claim``, ...): profiles select by group."""
        return self.fn.__module__.rsplit(".", 1)[-1]

    def input_schema(self) -> dict[str, Any]:
        return input_schema(self.params)

    def output_schema(self) -> dict[str, Any]:
        """The schema of the structured content: the ``result`` model's when one is declared, else
        the bare object every result is (a list is wrapped as ``{"result": [...]}``)."""
        return output_schema(self.result)


REGISTRY: dict[str, Tool] = {}


def tool(
    name: str, description: str, *, lock: LockScope | None = None, read_only: bool | None = None,
    destructive: bool = False, idempotent: bool = False, open_world: bool = False,
    result: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(db, params)``; ``lock`` names the parameter that leads to the workflow
    whose session lock this tool must respect (e.g. ``("task", "task_id")``). ``read_only`` and
    the other hints become its MCP annotations (see ``Hints``); a tool that declares no
    ``read_only`` has none, which tests/test_tool_hints.py refuses. ``result`` is the pydantic
    model of what the tool returns, its output schema."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        params = list(inspect.signature(fn, eval_str=True).parameters.values())[1].annotation
        if name in REGISTRY:
            raise ValueError(f"tool {name} registered twice")
        hints = None if read_only is None else Hints(read_only, destructive and not read_only,
                                                     idempotent or read_only, open_world)
        REGISTRY[name] = Tool(name, description, params, fn, lock, hints, result)
        return fn

    return register


def get_tool(name: str) -> Tool:
    """The tool called ``name``, its module imported first if need be: a server imports the
    tools when first asked for one, not before it has answered the handshake."""
    if name not in REGISTRY:
        from caw_lab.tools import load_all

        load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise CawError(
            "UNKNOWN_TOOL",
            f"Unknown tool: {name!r}",
            recoverable=False,
            suggestion="List the tools (caw tools) and use one of their names.",
        ) from None


def call_tool(db: Backend, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
    """Validate, check the lock, run. Bad input raises CawError before anything is written."""
    spec = get_tool(name)
    raw = dict(arguments or {})
    with Observed(spec.name, raw) as call:
        check_arguments(raw)
        params = validate(spec, raw)
        if spec.lock and getattr(params, "session_id", None):
            kind, field = spec.lock
            require_unlocked(db, kind, getattr(params, field), params.session_id)
        return call.returned(spec.fn(db, params))


def validate(spec: Tool, raw: dict[str, Any]) -> Params:
    try:
        return spec.params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(input)'}: {e['msg']}" for e in exc.errors())
        raise invalid_input(
            f"Invalid arguments for {spec.name}: {problems}",
            suggestion=f"See the input schema of {spec.name} (caw tools --json).",
        ) from None
