"""What caw-lab tells the tools that watch services: traces, metrics and structured logs.

Everything here speaks the OpenTelemetry API, which records nothing until a process installs
an SDK: a tool call costs a few microseconds more until someone looks. ``export.exported``
(``caw --server --metrics-port``, ``--otlp-endpoint``) installs one. The correlation
id a call carries through its logs, span and events is ``caw_lab.correlation``, a base module,
since the engine stamps it on every event.

- ``tool_calls``: each registry call as a span, as call counts and durations, and as a log record;
  and how long each ``task_load_context`` took, kept answer or fresh.
- ``runs``: an executor's run as one trace of its attempts and agents.
- ``task_metrics``: task counts, durations and failure rates, read from the change feed.
- ``scaling``: each running workflow's scaling hints (engine/scaling.py) as gauges.
- ``logs``: log records as JSON lines that carry the correlation id.
- ``export``: a Prometheus scrape endpoint, OTLP/HTTP export, and (``sdk``) the SDK behind them.
"""
