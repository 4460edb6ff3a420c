"""The course in a real (headless) Chromium, the way a learner sees it.

* ``make lab`` serves the whole project (``course_lib/`` in the file browser), opens chapter 00,
  every notebook starts the course kernel without a "Select Kernel" dialog, and the course's
  JupyterLab settings keep the news pop-up away;
* chapters run in JupyterLab (Run All) without an error, with their figures and widgets;
* the rendered course (``tools/build_course.py``) reads offline: formulas typeset by the MathJax
  copied into the build with the network blocked, solutions closed, previous / next links.

Needs Debian's ``chromium`` (or ``CHROMIUM_PATH``), the ``playwright`` Python package and, for
``make lab``, the course's ``.venv``; skipped with the reason otherwise. Screenshots go to
``build/browser/``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
KERNEL_DISPLAY_NAME = "Python (Meta-Learning, Hands-On)"
KERNEL_DISPLAY_NAME_ZH = "Python (元学习实战)"
# Chapter 00 and the widget-heavy chapters that exist in this checkout.
CHAPTERS = ["00_start_here.ipynb", "02_maml.ipynb", "07_case_study_personalized_learning.ipynb",
            "08_case_study_recommendation.ipynb"]
SHOTS = ROOT / "build" / "browser"

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright to run browser tests")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)", allow_module_level=True)

pytestmark = pytest.mark.browser
TOKEN = "course-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(url: str, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{url}/api/{path}?token={TOKEN}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``make lab`` on a free localhost port; JupyterLab's own settings only in a temporary folder.

    The user settings written here render every cell (JupyterLab 4 otherwise renders the visible ones
    only) and turn autosave off, so that running chapters never writes into the notebooks. The news
    pop-up is left to the settings that ``make lab`` installs.
    """
    if not (ROOT / ".venv" / "bin" / "jupyter").exists() or not shutil.which("make"):
        pytest.skip("make lab needs make and the course's .venv (run `make .venv/.installed-stamp`)")
    workdir = tmp_path_factory.mktemp("lab")
    settings = workdir / "settings" / "@jupyterlab"
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},
                           "docmanager-extension/plugin": {"autosave": False}}.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    lab_args = (f"--no-browser --port={port} --ip=127.0.0.1 --IdentityProvider.token={TOKEN} "
                f"--LabApp.user_settings_dir={workdir / 'settings'} --LabApp.workspaces_dir={workdir / 'workspaces'} "
                f"--FileCheckpoints.checkpoint_dir={workdir / 'checkpoints'}")  # none in the checkout
    env = dict(os.environ, COURSE_BUDGET=os.environ.get("COURSE_BUDGET", "smoke"))
    log = open(workdir / "jupyter.log", "w")
    # -o: use the environment as installed; this test is about serving, not installing.
    server = subprocess.Popen(["make", "-s", "-o", ".venv/.installed-stamp", "lab", f"LAB_ARGS={lab_args}"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            _api(url, "status")
            break
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"make lab exited early:\n{(workdir / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(1)
    else:
        os.killpg(server.pid, signal.SIGTERM)
        pytest.fail("JupyterLab did not start within 120 s")
    yield url
    os.killpg(server.pid, signal.SIGTERM)
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


def _wait_for_notebook(page):
    notebook = page.locator(".jp-NotebookPanel:visible .jp-Notebook")
    notebook.locator(".jp-Cell").first.wait_for(timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    return notebook


def _news_popups(page) -> int:
    return page.get_by_text(re.compile("Jupyter news", re.IGNORECASE)).count()


def test_make_lab_serves_the_project_with_the_course_kernel_and_no_news(lab, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{lab}/?token={TOKEN}", timeout=120_000)  # what `make lab` opens
    _wait_for_notebook(page)
    assert page.url.split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb"), page.url
    page.locator(".jp-BreadCrumbs-home").first.click()  # the file browser's top folder: the project
    listing = page.locator(".jp-DirListing-content")
    listing.get_by_text("course_lib", exact=True).wait_for(timeout=30_000)
    assert listing.get_by_text("notebooks", exact=True).count() == 1
    time.sleep(5)  # JupyterLab asks about news a moment after start-up, if at all
    page.screenshot(path=str(SHOTS / "lab-start.png"))
    assert _news_popups(page) == 0, "JupyterLab shows its news pop-up: are the course's settings installed?"
    page.close()

    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    for name in notebooks:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{lab}/lab/tree/notebooks/{name}?reset&token={TOKEN}", timeout=120_000)
        _wait_for_notebook(page)
        kernel_name = page.locator(".jp-NotebookPanel:visible .jp-KernelName").first
        for _ in range(60):  # "No Kernel" until the session has started
            kernel = kernel_name.inner_text().strip()
            dialogs = page.locator(".jp-Dialog").count()
            if dialogs or kernel not in ("", "No Kernel"):
                break
            time.sleep(0.5)
        news = _news_popups(page)
        if dialogs or kernel != KERNEL_DISPLAY_NAME or news:
            page.screenshot(path=str(SHOTS / f"kernel-{Path(name).stem}.png"))
        assert dialogs == 0, f"{name}: a dialog opened (kernel {kernel!r})"
        assert kernel == KERNEL_DISPLAY_NAME, f"{name}: kernel {kernel!r}"
        assert news == 0, f"{name}: the news pop-up is shown"
        page.close()
        for session in _api(lab, "sessions"):  # one kernel at a time on a small machine
            _api(lab, f"sessions/{session['id']}", method="DELETE")


def _error_outputs(page):
    """Outputs that show a Python exception (JupyterLab renders tracebacks as stderr-like outputs)."""
    return page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error'], "
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).filter(has_text="Traceback")


def _run_all(page, name: str):
    """Run All in the open notebook and wait until every cell has run (or one failed); the notebook."""
    notebook = _wait_for_notebook(page)
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
        page.screenshot(path=str(SHOTS / f"{Path(name).stem}-timeout.png"), full_page=True)
        pytest.fail(f"{name}: not every cell finished within 7 minutes")
    time.sleep(3)  # let widgets and figures render
    return notebook


# Whether a font on this machine has glyphs for Chinese: a character no font has (a private-use code
# point) is drawn as the same empty box as any other missing glyph; Chinese text drawn with the
# page's font must look different from such boxes.
_GLYPH_PROBE = """(text) => {
  const draw = s => { const c = document.createElement('canvas'); c.width = 200; c.height = 40;
    const g = c.getContext('2d'); g.font = '24px ' + getComputedStyle(document.body).fontFamily;
    g.fillText(s, 2, 30); return c.toDataURL(); };
  const chinese = (text.match(/[\\u4e00-\\u9fff]/g) || []).slice(0, 3).join('');
  return chinese.length === 3 && draw(chinese) !== draw('\\uE000\\uE001\\uE002');
}"""


def test_chinese_chapter_02_runs_in_jupyterlab_with_chinese_hints_and_glyphs(lab, browser):
    name = "zh/02_maml.ipynb"
    if not (ROOT / "notebooks" / name).exists():
        pytest.skip("the Chinese edition is not part of this checkout")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab}/lab/tree/notebooks/{name}?reset&token={TOKEN}", timeout=120_000)
    notebook = _run_all(page, name)
    kernel = page.locator(".jp-NotebookPanel:visible .jp-KernelName").first.inner_text().strip()
    assert kernel == KERNEL_DISPLAY_NAME_ZH, f"{name}: kernel {kernel!r}"
    errors = _error_outputs(page)
    assert errors.count() == 0, f"{name}: error output:\n{errors.first.inner_text()[-2000:] if errors.count() else ''}"
    text = notebook.inner_text()
    assert "元学习" in text and "学习目标" in text  # the translated Markdown
    assert "提示" in text and "Hint:" not in text  # the exercise checks speak Chinese (the kernel sets COURSE_LANG=zh)
    heading = notebook.locator(".jp-MarkdownCell h1").first
    heading.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "zh-02_maml.png"), full_page=False)
    assert page.evaluate(_GLYPH_PROBE, heading.inner_text()), \
        "Chinese characters are drawn as empty boxes: no CJK font (e.g. apt install fonts-wqy-microhei)"
    for session in _api(lab, "sessions"):
        _api(lab, f"sessions/{session['id']}", method="DELETE")
    page.close()


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_runs_in_jupyterlab(lab, browser, name):
    if not (ROOT / "notebooks" / name).exists():
        pytest.skip(f"{name} is not part of this checkout")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab}/lab/tree/notebooks/{name}?reset&token={TOKEN}", timeout=120_000)  # reset: no restored tabs
    notebook = _run_all(page, name)
    for showcase in (notebook.locator(".widget-container.widget-box"), notebook.locator(".jp-OutputArea-output img")):
        if showcase.count():  # show an interactive widget if there is one, else a figure
            showcase.last.scroll_into_view_if_needed()
            break
    page.screenshot(path=str(SHOTS / f"{Path(name).stem}.png"), full_page=False)
    text = notebook.inner_text()
    errors = _error_outputs(page)
    assert errors.count() == 0, f"{name}: error output:\n{errors.first.inner_text()[-2000:] if errors.count() else ''}"
    assert "Error displaying widget" not in text, f"{name}: a widget failed to render"
    assert notebook.locator(".jp-OutputArea-output img").count() > 0, f"{name}: no figure rendered"
    source = (ROOT / "notebooks" / name).read_text()
    if "widgets" in source and name != "00_start_here.ipynb":
        assert notebook.locator(".jupyter-widgets").count() > 0, f"{name}: no widget rendered"
    for session in _api(lab, "sessions"):
        _api(lab, f"sessions/{session['id']}", method="DELETE")
    page.close()


def _page_notebook(path: Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def built_course(tmp_path_factory):
    """Chapter 02 (smoke) between two one-cell pages, so that it has a previous and a next page."""
    spec = importlib.util.spec_from_file_location("build_course", ROOT / "tools" / "build_course.py")
    build_course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_course)
    folder = tmp_path_factory.mktemp("pages")
    first = _page_notebook(folder / "00_first.ipynb", [nbformat.v4.new_markdown_cell("# 00 · First\n\n$$a^2 + b^2 = c^2$$")])
    last = _page_notebook(folder / "99_last.ipynb", [nbformat.v4.new_markdown_cell("# Last page")])
    out = folder / "site"
    status = build_course.build([first, *build_course.chapters(["02"]), last], "smoke", 900, out)
    chinese = build_course.chapters(["02"], ROOT / "notebooks" / "zh")
    if chinese:  # the Chinese page of chapter 02, into out/zh, linked both ways
        status |= build_course.build(chinese, "smoke", 900, out, "zh")
    return out, status


def test_rendered_chapter_02_reads_offline(built_course, browser):
    out, status = built_course
    assert status == 0, (out / "timings.json").read_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    requested = []

    def only_files(route):
        requested.append(route.request.url)
        route.continue_() if route.request.url.startswith("file:") else route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    page.goto((out / "02_maml.html").as_uri())
    page.wait_for_function("window.MathJax && MathJax.isReady", timeout=60_000)
    page.evaluate("() => new Promise(done => MathJax.Hub.Queue(() => done(true)))")  # typesetting finished
    network = [u for u in requested if not u.startswith("file:")]
    assert not network, f"the page asked the network for {network}"
    text = page.inner_text("main")
    assert "$$" not in text and "\\mathcal" not in text, "formulas were left as raw LaTeX"
    assert page.locator(".MathJax_Display").count() >= 5  # the derivation's displayed equations
    derivation = page.locator(".jp-MarkdownCell", has_text="The meta-gradient, derived").first
    derivation.screenshot(path=str(SHOTS / "course-02-derivation.png"))

    hidden = page.locator("details.course-hidden")
    assert hidden.count() >= 5 and page.locator("details.course-hidden[open]").count() == 0
    assert not hidden.first.locator(".jp-InputArea").is_visible()  # solutions closed ...
    hidden.first.locator("summary").click()
    assert hidden.first.locator(".jp-InputArea").is_visible()  # ... and open on a click
    for nav in page.locator("nav.course-nav").all():
        assert nav.locator("a[rel=prev]").get_attribute("href") == "00_first.html"
        assert nav.locator("a[rel=next]").get_attribute("href") == "99_last.html"
        assert nav.get_by_text("Contents").get_attribute("href") == "index.html"
    assert page.locator(".course-widget img").count() >= 1  # the widget's snapshot, with its figure
    assert not re.search(r"(?<![0-9])0%\|", text), "a progress bar shows its first state, not its final text"
    if (out / "zh" / "02_maml.html").exists():  # the language switch, both ways
        switch = page.locator("nav.course-nav a.course-nav-lang").first
        assert switch.get_attribute("href") == "zh/02_maml.html" and switch.inner_text() == "中文"
        switch.click()
        page.wait_for_load_state()
        assert page.url.endswith("/zh/02_maml.html") and "学习目标" in page.inner_text("main")
        assert page.locator("details.course-hidden summary").first.inner_text().startswith("参考答案")
        assert page.evaluate(_GLYPH_PROBE, page.locator("h1").first.inner_text()), "Chinese shown as empty boxes"
        page.screenshot(path=str(SHOTS / "course-zh-02.png"))
        back = page.locator("nav.course-nav a.course-nav-lang").first
        assert back.get_attribute("href") == "../02_maml.html" and back.inner_text() == "English"
        assert 'src="../mathjax/MathJax.js?config=' in (out / "zh" / "02_maml.html").read_text()
    html_text = (out / "02_maml.html").read_text()
    for local in {str(ROOT), str(Path.home()), *(os.environ.get(v, "") for v in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR"))} - {"", "/"}:
        assert str(Path(local).resolve()) not in html_text and local not in html_text, f"the page shows the local path {local}"
    page.close()
    context.close()
