"""How commands print: JSON for machines, plain aligned tables for people."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def echo_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Columns padded to their widest cell; ``None`` shows as an empty cell."""
    cells = [[str(h) for h in headers], *(["" if c is None else str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in [cells[0], ["-" * w for w in widths], *cells[1:]]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
