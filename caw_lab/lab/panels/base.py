"""What every Workbench panel shares: a titled box that redraws itself from the tools
when the change feed says something it shows has changed."""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

from caw_lab.errors import CawError
from caw_lab.lab.render import error_html
from caw_lab.tools.client import Client

PANEL_LAYOUT = {"border": "1px solid #d0d7de", "padding": "6px", "margin": "2px", "flex": "1 1 300px",
                "min_width": "0", "overflow": "hidden"}
"""``flex: 1 1 300px`` with ``min_width: 0`` lets panels sit side by side when there is room
and stack in a phone-width output area instead of overflowing it."""


def fitted_html(value: str = "") -> widgets.HTML:
    """HTML held to the panel's width, so a wide table scrolls inside it instead of being cut off."""
    return widgets.HTML(value, layout={"width": "100%", "min_width": "0", "overflow": "auto"})


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

    def on_events(self, events: list[dict[str, Any]]) -> None:
        if self.wants(events):
            self.refresh()

    def describe(self) -> str:
        """A short, stable account of what the panel shows, for ``repr``."""
        return ""

    def __repr__(self) -> str:
        detail = self.describe()
        return f"<caw_lab {type(self).__name__}{': ' + detail if detail else ''}>"


def kinds_start(events: list[dict[str, Any]], *prefixes: str) -> bool:
    return any(str(e.get("kind", "")).startswith(prefixes) for e in events)
