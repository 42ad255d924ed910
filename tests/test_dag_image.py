"""The still picture of a DAG that the widget's output carries for saved notebooks, nbviewer and GitHub."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

import caw_lab
from caw_lab.lab.dag_image import STATUS_COLORS, dag_svg
from caw_lab.lab.dag_state import Dag, TaskRow
from caw_lab.lab.dag_widget import DagWidget
from tests.conftest import make_workflow
from tests.dag_screen import palette, rgb

SVG = "{http://www.w3.org/2000/svg}"


class SilentComm(BaseComm):
    def publish_msg(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture(autouse=True)
def silent_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", SilentComm)


def test_the_output_bundle_carries_the_graph_as_it_is_now(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "design <b>"}, {"name": "build", "depends_on": ["design <b>"]}], name="a & b")
    widget = DagWidget(client, wf["id"], live=False)
    client.call("task_update_status", id=wf["tasks"]["design <b>"], status="planning")
    widget.refresh()
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    root = ET.fromstring(data["image/svg+xml"])  # well-formed: names are escaped
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "a & b · 2 tasks" in texts and "design <b>" in texts and "build" in texts
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect")}
    assert STATUS_COLORS["planning"][1] in fills and STATUS_COLORS["blocked"][1] in fills
    assert len(list(root.iter(f"{SVG}path"))) == 1, "one edge"
    widget.close()


def test_the_palette_is_the_front_ends() -> None:
    assert {s: {"fill": rgb(f[1:]), "stripe": rgb(k[1:])} for s, (k, f, _) in STATUS_COLORS.items()} == palette()


def test_columns_follow_the_longest_upstream_chain() -> None:
    rows = {i: TaskRow(i, "pending", "", "", "") for i in "abcd"}
    svg = dag_svg(Dag(rows, frozenset({("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")})), "chain")
    xs = {m[1]: float(m[0]) for m in re.findall(r'translate\(([\d.]+),[\d.]+\)"><title>(\w)', svg)}
    assert xs["a"] < xs["b"] < xs["c"] < xs["d"]


def test_ten_thousand_tasks_make_a_small_picture() -> None:
    rows = {f"t{i}": TaskRow(f"t{i}", "completed" if i % 3 else "failed", "", "", "") for i in range(10_000)}
    edges = frozenset((f"t{i}", f"t{i + 100}") for i in range(9_900))
    svg = dag_svg(Dag(rows, edges), "big")
    assert len(svg) < 1_200_000
    assert svg.count("<rect") == 10_001


def test_the_workbench_output_carries_its_graph(client: caw_lab.Client) -> None:
    wf = make_workflow(client, [{"name": "only task"}], name="solo")
    bench = caw_lab.Workbench(client, wf["id"], live=False)
    data = bench._repr_mimebundle_()
    assert ">only task<" in data["image/svg+xml"] and "application/vnd.jupyter.widget-view+json" in data
    bench.close()
