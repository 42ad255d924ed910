"""Real JupyterLab and Notebook 7 in Debian's Chromium for widget tests and benchmarks.

``LabServer`` starts ``jupyter lab`` with fresh config, runtime, workspace and settings
folders (the news pop-up off, so it never covers a click target); with ``notebook``
installed the same server also serves Notebook 7. ``run_all`` opens a notebook in either
UI, waits for its kernel (a Run All sent before the kernel is up is silently dropped) and
runs every cell. The fixtures at the end (``lab``, ``chromium``, ``page``, ``shots``) are
every browser test's; tests/conftest.py registers this module as a plugin. See
/work/shared/notes/browser-testing.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
JUPYTER_LAB = Path(sys.executable).with_name("jupyter-lab")
JUPYTER_NOTEBOOK = Path(sys.executable).with_name("jupyter-notebook")
TOKEN = "caw-lab-browser-test"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
URLS = {"lab": "/lab/tree/{name}?token={token}&reset", "notebook": "/notebooks/{name}?token={token}"}
"""Where each UI opens a notebook; ``&reset`` drops the tabs JupyterLab would restore."""
KERNEL_READY = """() => {
  const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const name = p && p.querySelector('.jp-Toolbar-kernelName');
  const ind = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!(name && ind && !name.textContent.includes('No Kernel') && ind.dataset.status === 'idle');
}"""
ALL_CELLS_RUN = """() => {
  const prompts = [...document.querySelectorAll('.jp-Cell.jp-CodeCell .jp-InputArea-prompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def missing(ui: str = "lab") -> str:
    """Why browser tests in ``ui`` ("lab" or "notebook") cannot run here, or ``""``."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    if not JUPYTER_LAB.exists():
        return "JupyterLab is not installed (pip install caw-lab[lab])"
    if ui == "notebook" and not JUPYTER_NOTEBOOK.exists():
        return "Notebook 7 is not installed (pip install caw-lab[lab])"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabServer:
    def __init__(self, workdir: Path) -> None:
        self.root = workdir / "notebooks"
        self.root.mkdir(parents=True)
        env = dict(os.environ)
        dirs = ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR")
        for name in dirs:
            env[name] = str(workdir / name.lower())
        settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log = (workdir / "server.log").open("w")
        self.process = subprocess.Popen(
            [str(JUPYTER_LAB), "--no-browser", f"--port={self.base.rsplit(':', 1)[1]}", f"--ServerApp.token={TOKEN}",
             "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={self.root}", "--allow-root"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait()

    def wait(self, timeout: float = 60) -> None:
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited; see {self.log.name}")
            try:
                urllib.request.urlopen(f"{self.base}/api/status?token={TOKEN}", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"jupyter lab did not start within {timeout:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)


def write_notebook(server: LabServer, name: str, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, server.root / name)


def run_all(page: Any, server: LabServer, name: str, ui: str = "lab", timeout_ms: int = 90_000) -> float:
    """Open the notebook ``name`` in ``ui`` and Run All once its kernel is up; returns when
    Run All was clicked. Kernels outlive the page and are keyed by path: use a fresh name."""
    page.goto(server.base + URLS[ui].format(name=name, token=TOKEN))
    page.wait_for_function(KERNEL_READY, timeout=timeout_ms)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    clicked = time.monotonic()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    return clicked


def open_notebook(page: Any, server: LabServer, name: str, cells: list[str], timeout_ms: int = 90_000) -> float:
    """Write a notebook of ``cells``, open it in JupyterLab, Run All; returns when Run All was clicked."""
    write_notebook(server, name, cells)
    return run_all(page, server, name, timeout_ms=timeout_ms)


def wait_for_all_cells(page: Any, timeout_ms: int = 90_000) -> None:
    """Every code cell has run (its prompt holds an execution count)."""
    page.wait_for_function(ALL_CELLS_RUN, timeout=timeout_ms)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
    yield tab
    tab.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots: ``CAW_SCREENSHOTS``, else its temporary folder."""
    folder = Path(os.environ.get("CAW_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder
