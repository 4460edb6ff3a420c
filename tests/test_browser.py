"""Run chapters in JupyterLab in a real (headless) Chromium, the way a learner does.

Needs Debian's ``chromium`` (or ``CHROMIUM_PATH``) and the ``playwright`` Python package; skipped
with the reason otherwise. Screenshots are written to ``build/browser/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
# Chapter 00 and the widget-heavy chapters that exist in this checkout.
CHAPTERS = ["00_start_here.ipynb", "02_maml.ipynb", "07_case_study_personalized_learning.ipynb"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run browser tests")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)", allow_module_level=True)

pytestmark = pytest.mark.browser
TOKEN = "course-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port, serving a copy of the notebooks."""
    workdir = tmp_path_factory.mktemp("lab")
    for name in CHAPTERS:
        if (ROOT / "notebooks" / name).exists():
            shutil.copy(ROOT / "notebooks" / name, workdir / name)
    # Render every cell (JupyterLab 4 otherwise only renders the visible ones) and skip the news pop-up.
    settings = workdir / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    env = dict(os.environ, COURSE_BUDGET=os.environ.get("COURSE_BUDGET", "smoke"))
    log = open(workdir / "jupyter.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", "--allow-root", f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workdir / 'workspaces'}", f"--ServerApp.root_dir={workdir}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited early:\n{(workdir / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(1)
    else:
        server.terminate()
        pytest.fail("JupyterLab did not start within 120 s")
    yield url, workdir
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
        )
        yield chromium
        chromium.close()


def _error_outputs(page):
    """Outputs that show a Python exception (JupyterLab renders tracebacks as stderr-like outputs)."""
    return page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).filter(has_text="Traceback")


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_in_jupyterlab(lab, browser, name):
    url, workdir = lab
    if not (workdir / name).exists():
        pytest.skip(f"{name} is not part of this checkout")
    shots = ROOT / "build" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/{name}?reset&token={TOKEN}", timeout=120_000)  # reset: no restored tabs
    notebook = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    notebook.locator(".jp-Cell").first.wait_for(timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    notebook.locator(".jp-Cell").first.click()
    page.keyboard.press("Escape")
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.time() + 420
    while time.time() < deadline:
        time.sleep(2)
        if _error_outputs(page).count():
            break  # Run All stops at the first error; report it below
        # Collapsed (solution) cells show no prompt; every visible prompt must carry a number.
        prompts = [p.strip() for p in notebook.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()]
        if prompts and all(p[1:-2].strip().isdigit() for p in prompts):
            break
    else:
        page.screenshot(path=str(shots / f"{Path(name).stem}-timeout.png"), full_page=True)
        pytest.fail(f"{name}: not every cell finished within 7 minutes")
    time.sleep(3)  # let widgets and figures render
    for showcase in (notebook.locator(".widget-container.widget-box"), notebook.locator(".jp-OutputArea-output img")):
        if showcase.count():  # show an interactive widget if there is one, else a figure
            showcase.last.scroll_into_view_if_needed()
            break
    page.screenshot(path=str(shots / f"{Path(name).stem}.png"), full_page=False)
    text = notebook.inner_text()
    errors = _error_outputs(page)
    assert errors.count() == 0, f"{name}: error output:\n{errors.first.inner_text()[-2000:] if errors.count() else ''}"
    assert "Error displaying widget" not in text, f"{name}: a widget failed to render"
    assert notebook.locator(".jp-OutputArea-output img").count() > 0, f"{name}: no figure rendered"
    widgets_expected = "ipywidgets" in (workdir / name).read_text() or "widgets" in (workdir / name).read_text()
    if widgets_expected and name != "00_start_here.ipynb":
        assert notebook.locator(".jupyter-widgets").count() > 0, f"{name}: no widget rendered"
    page.close()
