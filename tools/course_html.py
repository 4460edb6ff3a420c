"""Make an executed notebook readable as a static, offline HTML page (used by build_course.py).

* Widgets cannot run in a static page: each widget output becomes a snapshot of its saved state
  (controls as text, an ``Output`` widget's figures as images), a tqdm bar its final line of text.
* Carriage-return progress lines in text streams are reduced to what a terminal shows last.
* Absolute local paths in outputs are shown relative to the course folders (``runtime.shown_path``).
* MathJax is copied next to the pages from the pinned ``jupyter-server-mathjax`` package.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"
_TAG = re.compile(r"<[^>]+>")


def _text(value) -> str:
    """Plain text of a widget's HTML value (tags removed, entities and figure spaces decoded)."""
    return html.unescape(_TAG.sub("", str(value))).replace("\u2007", " ").replace("\u200b", "")


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _children(model: dict) -> list[str]:
    return [c.removeprefix("IPY_MODEL_") for c in model["state"].get("children", [])]


def _progress_line(model_id: str, state: dict) -> str | None:
    """tqdm's final text line if ``model_id`` is a tqdm bar (an HBox: HTML, progress, HTML), else None."""
    kids = [state.get(c) for c in _children(state[model_id])]
    if len(kids) != 3 or any(k is None for k in kids) or not kids[1]["model_name"].endswith("ProgressModel"):
        return None
    bar = kids[1]["state"]
    span = (bar.get("max", 100) or 1) - bar.get("min", 0)
    filled = round(10 * (bar.get("value", 0) - bar.get("min", 0)) / span) if span else 10
    left, right = (_text(k["state"].get("value", "")).strip() for k in (kids[0], kids[2]))
    return f"{left}|{'█' * filled}{' ' * (10 - filled)}| {right}"


def _output_html(output: dict) -> str:
    """One output of an Output widget, rendered statically."""
    data = output.get("data", {})
    if "image/png" in data:
        return f'<img alt="figure" src="data:image/png;base64,{"".join(data["image/png"]).strip()}">'
    if "text/html" in data:
        return "".join(data["text/html"])
    text = output.get("text") or data.get("text/plain") or "\n".join(output.get("traceback", []))
    return f"<pre>{html.escape(collapse_carriage_returns(''.join(text)))}</pre>"


def _control_html(model: dict) -> str:
    """A control (slider, checkbox, button, dropdown, label...) as static text."""
    name, s = model["model_name"], model["state"]
    label = html.escape(s.get("description", ""))
    if name == "ButtonModel":
        return f'<button disabled class="course-widget-button">{label}</button>'
    if name in ("CheckboxModel", "ToggleButtonModel"):
        return f"{'☑' if s.get('value') else '☐'} {label}"
    if name in ("HTMLModel", "HTMLMathModel"):
        return f"{label} {s.get('value', '')}"
    if "index" in s and "_options_labels" in s:  # Dropdown, RadioButtons, Select, ToggleButtons
        index = s["index"]
        chosen = s["_options_labels"][index] if isinstance(index, int) else "—"
        return f"{label}: <b>{html.escape(str(chosen))}</b>"
    if "value" in s:
        value = s["value"]
        shown = " – ".join(map(_number, value)) if isinstance(value, list) else _number(value)
        return f"{label}: <b>{html.escape(shown)}</b>"
    return f"<i>{html.escape(name.removesuffix('Model'))}</i>"


def widget_html(model_id: str, state: dict) -> str:
    """Static HTML of the widget ``model_id`` and its children, from the notebook's saved state."""
    model = state.get(model_id)
    if model is None:
        return ""
    line = _progress_line(model_id, state)
    if line is not None:
        return f"<pre>{html.escape(line)}</pre>"
    name = model["model_name"]
    if name == "OutputModel":
        return "".join(_output_html(o) for o in model["state"].get("outputs", []))
    if "children" in model["state"]:
        direction = "row" if name == "HBoxModel" else "column"
        inner = "".join(f"<div>{widget_html(c, state)}</div>" for c in _children(model))
        return f'<div class="course-widget-box" style="flex-direction:{direction}">{inner}</div>'
    return f'<span class="course-widget-control">{_control_html(model)}</span>'


def snapshot_widgets(nb) -> int:
    """Replace every widget output of ``nb`` by a static snapshot and drop the widget state.

    A widget whose state was not saved (closed, e.g. a tqdm bar with ``leave=False``) shows nothing,
    as in JupyterLab. Returns the number of widget outputs replaced.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(output)
                continue
            replaced += 1
            model_id = view.get("model_id", "")
            line = _progress_line(model_id, state) if model_id in state else None
            body = widget_html(model_id, state)
            if line is not None:
                output["data"] = {"text/plain": line}
            elif body:
                output["data"] = {"text/html": (
                    '<div class="course-widget"><div class="course-widget-note">Static snapshot of an interactive '
                    f"widget: run the notebook in JupyterLab to use it.</div>{body}</div>")}
            else:
                continue
            outputs.append(output)
        if "outputs" in cell:
            cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return replaced


def collapse_carriage_returns(text: str) -> str:
    """What a terminal shows of ``text``: on each line, only what follows the last carriage return."""
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))


def clean_streams(nb) -> None:
    """Reduce carriage-return progress output (text tqdm bars) in every stream to its final state."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output.text = collapse_carriage_returns(output.text)


def scrub_paths(nb, aliases: list[tuple[Path, str]]) -> None:
    """Show the folders in ``aliases`` (``(folder, shown as)`` pairs, longest first) as their alias in outputs."""
    pairs = [(f"{folder}/", "" if alias == "." else f"{alias}/") for folder, alias in aliases]
    pairs += [(str(folder), alias) for folder, alias in aliases]

    def scrub(value):
        if isinstance(value, str):
            for absolute, shown in pairs:
                value = value.replace(absolute, shown)
            return value
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {k: scrub(v) if not k.startswith("image/") else v for k, v in value.items()}
        return value

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for key in ("text", "data", "traceback", "evalue"):
                if key in output:
                    output[key] = scrub(output[key])


def copy_mathjax(out: Path) -> str:
    """Copy MathJax 2 (from the ``jupyter-server-mathjax`` package) into ``out/mathjax``; return its URL.

    The URL is relative to the pages, so the course reads offline and from a copied folder.
    """
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = out / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("localization", "SVG", "a11y"))
    return f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
