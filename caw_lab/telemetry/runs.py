"""An executor's run as one trace: a ``caw.run`` span for the whole run, a ``caw.attempt``
span for each attempt at a task (from its claim to its settling), and inside each a
``caw.agent`` span for the agent that made it, from its start to its exit. An agent started in
the executor's process (the python runtime) runs inside its span, so the tool calls it makes
are children of it and the trace holds them too."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

tracer = trace.get_tracer("caw_lab")


@contextmanager
def run(workflow_id: str) -> Iterator[Span]:
    """The current span while the executor runs, so every attempt's span is its child."""
    with tracer.start_as_current_span("caw.run", attributes={"caw.workflow_id": workflow_id}) as span:
        yield span


def ended(span: Span, status: str, message: str) -> None:
    """How the run ended (``completed``, ``suspended``...); a failed run is an error span."""
    span.set_attributes({"caw.run.outcome": status, "caw.run.message": message[:500]})
    if status == "failed":
        span.set_status(Status(StatusCode.ERROR, message[:500]))


class Attempt:
    """One attempt at a task and its agent: both spans, ended together when the attempt settles."""

    def __init__(self, task: Mapping[str, Any], agent_id: str, runtime: str, began_ns: int) -> None:
        about = {"caw.workflow_id": task["workflow_id"], "caw.task_id": task["id"], "caw.agent_id": agent_id,
                 "caw.runtime": runtime}
        self.attempt = tracer.start_span(f"caw.attempt {task['name']}", start_time=began_ns,
                                         attributes={**about, "caw.task.attempt": task["attempts"] + 1})
        self.agent = tracer.start_span(f"caw.agent {runtime}", context=trace.set_span_in_context(self.attempt),
                                       attributes=about)

    @contextmanager
    def starting(self) -> Iterator[None]:
        """Around the runtime's start: an agent in this process inherits the agent span."""
        with trace.use_span(self.agent, end_on_exit=False):
            yield

    def end(self, error: str | None = None) -> None:
        for span in (self.agent, self.attempt):
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, error[:500]))
            span.end()
