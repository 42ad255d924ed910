"""Log records as JSON lines carrying the correlation id of the tool call that logged them, for
log stores that index fields (Loki, CloudWatch, Elastic): ``caw --log-format json``."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from opentelemetry import trace

from caw_lab import correlation

FIELDS = "caw"
"""The ``extra`` key whose mapping a record adds to its line as fields of their own (a tool call's
``tool``, ``outcome`` and ``duration_ms``; an alert's ``alert`` and correlation id), so log
stores index them without parsing the message. A field set to None is left out."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, the correlation id and,
    inside a recorded span, its trace and span ids; the record's own fields (``FIELDS``),
    which may name a correlation id of their own; an exception's traceback as ``exc``."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if cid := correlation.current():
            line["correlation_id"] = cid
        if (span := trace.get_current_span().get_span_context()).is_valid:
            line.update(trace_id=f"{span.trace_id:032x}", span_id=f"{span.span_id:016x}")
        line.update((key, value) for key, value in getattr(record, FIELDS, {}).items() if value is not None)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_json(level: int = logging.INFO) -> None:
    """Send the ``caw_lab`` loggers' records to stderr as JSON lines (stdout may be the protocol)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("caw_lab")
    logger.addHandler(handler)
    logger.setLevel(level)
