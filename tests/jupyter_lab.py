"""Real JupyterLab in Debian's Chromium for widget tests and benchmarks (not a test module).

``LabServer`` starts ``jupyter lab`` with fresh config, runtime, workspace and settings
folders (the news pop-up off, so it never covers a click target); ``open_notebook``
writes a notebook, opens it, waits for its kernel (a Run All sent before the kernel is up
is silently dropped) and runs every cell. See /work/shared/notes/browser-testing.md.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat

CHROMIUM = Path("/usr/bin/chromium")
JUPYTER_LAB = Path(sys.executable).with_name("jupyter-lab")
TOKEN = "caw-lab-browser-test"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
KERNEL_READY = """() => {
  const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const name = p && p.querySelector('.jp-Toolbar-kernelName');
  const ind = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!(name && ind && !name.textContent.includes('No Kernel') && ind.dataset.status === 'idle');
}"""


def missing() -> str:
    """Why browser tests cannot run here, or ``""``."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    if not JUPYTER_LAB.exists():
        return "JupyterLab is not installed (pip install caw-lab[lab])"
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
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR"):
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


def open_notebook(page: Any, server: LabServer, name: str, cells: list[str], timeout_ms: int = 90_000) -> float:
    """Write a notebook of ``cells``, open it, Run All; returns the time Run All was clicked."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, server.root / name)
    page.goto(f"{server.base}/lab/tree/{name}?token={TOKEN}&reset")
    page.wait_for_function(KERNEL_READY, timeout=timeout_ms)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    clicked = time.monotonic()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    return clicked
