"""What every Workbench panel shares: a titled box that redraws itself from the tools
when the change feed says something it shows has changed."""

from __future__ import annotations

import logging
import threading
from html import escape
from typing import Any

import ipywidgets as widgets

from caw_lab.errors import CawError
from caw_lab.lab.render import error_html
from caw_lab.tools.client import Client

log = logging.getLogger(__name__)

PANEL_LAYOUT = {"border": "1px solid #d0d7de", "padding": "6px", "margin": "2px", "flex": "1 1 300px",
                "min_width": "0", "overflow": "hidden"}
"""``flex: 1 1 300px`` with ``min_width: 0`` lets panels sit side by side when there is room
and stack in a phone-width output area instead of overflowing it."""


def fitted_html(value: str = "") -> widgets.HTML:
    """HTML held to the panel's width, so a wide table scrolls inside it instead of being cut off."""
    return widgets.HTML(value, layout={"width": "100%", "min_width": "0", "overflow": "auto"})


FLUID_TABLE = "border-collapse: collapse; font-size: 12px; line-height: 1.4; width: 100%; table-layout: auto;"
FLUID_HEAD = "padding: 2px 6px; border-bottom: 1px solid #d0d7de; text-align: left; white-space: nowrap;"
FLUID_CELL = ("padding: 2px 6px; border-bottom: 1px solid #e0e0e0; text-align: left; vertical-align: top; "
              "overflow-wrap: anywhere;")


def fluid_table(headers: list[str], rows: list[list[str]]) -> str:
    """A table as wide as its panel whose cells wrap, so a phone-width panel shows every column
    (keep headers short: they do not wrap)."""
    head = "".join(f"<th style='{FLUID_HEAD}'>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td style='{FLUID_CELL}'>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='caw-fluid' style='{FLUID_TABLE}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def title_html(text: str) -> widgets.HTML:
    return widgets.HTML(f"<div style='font-weight:600; font-size:13px'>{text}</div>")


class Panel(widgets.VBox):
    """Subclasses draw in ``draw`` and say in ``wants`` which events concern them."""

    title = "Panel"

    def __init__(self, client: Client, **kwargs: Any) -> None:
        self.client = client
        self.heading = title_html(self.title)
        self.problem = fitted_html()
        self.body = widgets.VBox(layout={"min_width": "0"})
        self._drawing = threading.RLock()
        kwargs.setdefault("layout", PANEL_LAYOUT)
        super().__init__([self.heading, self.problem, self.body], **kwargs)
        self.add_class("caw-panel")
        self.add_class(f"caw-{type(self).__name__.lower()}")

    def refresh(self) -> None:
        """Redraw from the tools; a refusal shows inside the panel, the others keep working."""
        with self._drawing:
            try:
                self.draw()
                self.problem.value = ""
            except CawError as err:
                self.problem.value = error_html(err)

    def draw(self) -> None:
        raise NotImplementedError

    def wants(self, events: list[dict[str, Any]]) -> bool:
        return True

    def tick(self) -> None:
        """Called by the Workbench's clock: redraw what ages ("3s ago") from what was last read."""

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.wants(events):
            self.refresh()

    def describe(self) -> str:
        """A short, stable account of what the panel shows, for ``repr``."""
        return ""

    def __repr__(self) -> str:
        detail = self.describe()
        return f"<caw_lab {type(self).__name__}{': ' + detail if detail else ''}>"


def agent_names(agents: list[dict[str, Any]]) -> dict[str, str]:
    """Agent id -> the name a person knows it by; two agents sharing a name get their id's tail."""
    counts: dict[str, int] = {}
    for a in agents:
        counts[a["name"]] = counts.get(a["name"], 0) + 1
    return {a["id"]: a["name"] if counts[a["name"]] == 1 else f"{a['name']} ({a['id'][-4:]})" for a in agents}


def kinds_start(events: list[dict[str, Any]], *prefixes: str) -> bool:
    return any(str(e.get("kind", "")).startswith(prefixes) for e in events)
