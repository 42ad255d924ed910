"""How commands print: JSON for machines, plain aligned tables for people, and never a
control character from the database straight to a terminal.

Names, descriptions and errors are written by whoever can call a tool, and a terminal
obeys what they contain: ESC sequences recolour or rewrite the screen, OSC 52 puts text on
the clipboard, OSC 8 hides a link, bidirectional overrides reorder what is read. So text
for people shows every C0 and C1 control, DEL, the bidi controls and the line separators
as escapes (``\\x1b``, ``\\u202e``); JSON keeps every value as it is and writes those same
characters as ``\\u`` escapes, so what a program parses is unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import click

CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters a terminal acts on rather than shows."""
RAW_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""The controls JSON allows raw inside strings (it escapes C0 itself); outside strings there are none."""
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: str) -> str:
    """``text`` with every control character written as an escape."""
    return CONTROLS.sub(lambda m: NAMED.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                            else f"\\u{ord(m.group()):04x}"), text)


def json_text(value: Any) -> str:
    """Indented JSON, non-ASCII text kept readable, every control character as a ``\\u`` escape."""
    return RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, indent=2, ensure_ascii=False))


def echo_json(value: Any) -> None:
    click.echo(json_text(value))


def echo_text(text: str) -> None:
    """One string: exactly as it is for a script reading a pipe (click would strip what looks
    like ANSI styling), escaped for a person at a terminal."""
    if click.get_text_stream("stdout").isatty():
        click.echo(visible(text))
    else:
        click.echo(text, color=True)


def echo_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """Columns padded to their widest cell; ``None`` shows as an empty cell, controls as escapes."""
    cells = [[str(h) for h in headers], *(["" if c is None else visible(str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in [cells[0], ["-" * w for w in widths], *cells[1:]]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
