"""Every notebook in notebooks/ runs top to bottom in a real kernel without an error.

The context-experiments notebook runs twice, with the relevance benchmark and without it
(``$CAW_RELEVANCE_DATA`` pointing at an empty folder, as on a machine without the data): its
plots must be real images in the first run, and the second must say what it skipped and why.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from caw_lab.ranking import experiments, history

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPERIMENTS = "context_experiments.ipynb"
DATA = experiments.locate(Path(__file__).resolve().parent)


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run in a copy of the folder, on a fresh database, so a notebook writes nothing into the repository."""
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    monkeypatch.setenv("CAW_DB_PATH", str(tmp_path / "workflows.db"))
    notebook = nbformat.read(folder / name, as_version=4)
    resources = {"metadata": {"path": str(folder)}}
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources=resources).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    return notebook


def outputs(cell: Any, kind: str) -> list[str]:
    return [o["data"][kind] for o in cell.get("outputs", []) if kind in o.get("data", {})]


PLOTS = ("report.recall_curves", "report.metric_bars", "report.weights", "report.differences")


def plot_cells(notebook: Any) -> list[Any]:
    return [c for c in notebook.cells if c.cell_type == "code" and any(p in c.source for p in PLOTS)]


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if p.name != EXPERIMENTS))
def test_notebook_runs_without_errors(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    execute(name, tmp_path, monkeypatch)


@pytest.mark.skipif(DATA.path is None, reason=f"the relevance benchmark is not on this machine: {DATA.note}")
def test_context_experiments_plot_the_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small sample (8 targets per repository) keeps the run short; the plots are the same code."""
    monkeypatch.setenv(experiments.ENV, str(DATA.path))
    monkeypatch.setenv(experiments.SAMPLE_ENV, "8")
    notebook = execute(EXPERIMENTS, tmp_path, monkeypatch)
    cells = plot_cells(notebook)
    assert len(cells) == 4  # recall curves, NDCG/MRR bars, weights, paired differences
    for cell in cells:
        assert outputs(cell, "image/png"), cell.source
    tables = "\n".join(md for cell in notebook.cells for md in outputs(cell, "text/markdown"))
    assert "32 targets from 4 repositories" in tables
    assert "| learned-loro | " in tables and "`learned-loro` minus `learned`" in tables


def test_context_experiments_without_the_benchmark_say_so_and_still_run(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the benchmark absent the notebook says why, then ranks targets built from caw-lab's own git
    history (this checkout's), or, where it has none, says it skipped the section."""
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv(experiments.ENV, str(empty))
    monkeypatch.setenv(experiments.SAMPLE_ENV, "8")
    notebook = execute(EXPERIMENTS, tmp_path, monkeypatch)
    said = "\n".join(md for cell in notebook.cells for md in outputs(cell, "text/markdown"))
    assert f"${experiments.ENV} is set to {empty}, which holds no relevance data" in said
    budgets = next(c for c in notebook.cells if c.cell_type == "code" and "adaptive" in c.source)
    assert "streaming" in "".join(o.get("text", "") for o in budgets.outputs)  # the sections before still ran
    root = history.toplevel(Path(experiments.__file__).parent)
    if root is not None and next(history.targets(root, limit=1), None):
        assert f"8 targets built the benchmark's way from the git history of {root}" in said
        assert "leave-one-repository-out needs targets from two repositories" in said
        assert all(outputs(c, "image/png") for c in plot_cells(notebook)[:3])
    else:
        assert "Skipping the ranking experiments" in said
        assert not [c for c in notebook.cells if outputs(c, "image/png")]
