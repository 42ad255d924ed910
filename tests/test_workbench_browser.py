"""The quickstart in real JupyterLab, in Debian's Chromium, as a person would use it.

Screenshots are written to ``CAW_SCREENSHOTS`` (default: the test's temporary folder) so
a person can look at what the test saw.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import caw_lab

CHROMIUM = Path("/usr/bin/chromium")
JUPYTER_LAB = Path(sys.executable).with_name("jupyter-lab")
QUICKSTART = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
if not JUPYTER_LAB.exists():
    pytest.skip("JupyterLab is not installed (pip install caw-lab[lab])", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

pytestmark = pytest.mark.slow

TOKEN = "caw-lab-browser-test"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
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
OVERFLOW = """() => {
  const wb = document.querySelector('.caw-workbench');
  const box = wb.getBoundingClientRect();
  const outside = [...wb.querySelectorAll('.caw-panel')].filter(p => p.getBoundingClientRect().right > box.right + 1);
  return {scroll: wb.scrollWidth, client: wb.clientWidth, width: box.width, outside: outside.length};
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A JupyterLab server with fresh settings (no news pop-up) serving a temporary folder."""
    root = tmp_path_factory.mktemp("lab")
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR"):
        env[name] = str(root.parent / f"{root.name}-{name.lower()}")
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    log = (root.parent / f"{root.name}-server.log").open("w")
    server = subprocess.Popen(
        [str(JUPYTER_LAB), "--no-browser", f"--port={port}", f"--ServerApp.token={TOKEN}",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base, server)
        yield {"base": base, "root": root}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def wait_for_server(base: str, server: subprocess.Popen[bytes]) -> None:
    stop = time.monotonic() + 60
    while time.monotonic() < stop:
        assert server.poll() is None, "jupyter lab exited; see its server.log"
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("jupyter lab did not start within 60 s")


@pytest.fixture
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CAW_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_all(page: Any, lab: dict[str, Any], notebook: str) -> None:
    """Open a fresh copy of the notebook (kernels are keyed by path) and Run All once its kernel is up."""
    page.goto(f"{lab['base']}/lab/tree/{notebook}?token={TOKEN}&reset")
    page.wait_for_function(KERNEL_READY, timeout=90_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.wait_for_function(ALL_CELLS_RUN, timeout=90_000)


def click_task(page: Any, name: str) -> None:
    page.locator(f".caw-workbench .caw-dag g.caw-node[data-name='{name}']").first.click()


def test_quickstart_workbench_renders_follows_clicks_and_fits_a_phone(
    page: Any, lab: dict[str, Any], shots: Path
) -> None:
    shutil.copy(QUICKSTART, lab["root"] / "quickstart.ipynb")
    run_all(page, lab, "quickstart.ipynb")
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert "Traceback" not in " ".join(errors.all_inner_texts())

    workbench = page.locator(".caw-workbench").first
    workbench.scroll_into_view_if_needed()
    sync_api.expect(workbench.locator(".caw-workflowlist")).to_contain_text("4/4", timeout=15_000)
    sync_api.expect(workbench.locator(".caw-workflowlist .widget-hprogress")).to_have_count(1)
    workbench.screenshot(path=str(shots / "workbench.png"))

    click_task(page, "api")
    detail = workbench.locator(".caw-taskdetail")
    detail.get_by_text("POST /login checks the password hash", exact=True).wait_for(timeout=10_000)
    assert "ada wrote api" in detail.inner_text() or "grace wrote api" in detail.inner_text()
    workbench.screenshot(path=str(shots / "workbench-task-selected.png"))

    db = workbench.locator(".caw-workbench-db").inner_text().removeprefix("sqlite:///")
    with caw_lab.connect(db) as other_process:  # the kernel is idle: only its feed thread can show this
        other_process.call("workflow_create", name="Dark mode", source_type="prompt", source_content="a dark theme")
    workbench.locator(".caw-workflowlist button", has_text="Dark mode").wait_for(timeout=10_000)

    page.keyboard.press("Control+b")  # hide the file browser, as on a phone
    page.set_viewport_size({"width": 380, "height": 800})
    page.wait_for_timeout(500)
    workbench.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "workbench-narrow.png"))
    fit = page.evaluate(OVERFLOW)
    assert fit["width"] < 380 and fit["scroll"] <= fit["client"] + 1 and fit["outside"] == 0, fit
