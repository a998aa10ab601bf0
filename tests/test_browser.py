"""Real-browser tests: notebooks as users meet them, in JupyterLab driven by headless Chromium.

Run with `pytest -m browser tests/test_browser.py`; deselect with `-m "not browser"`.
Each notebook is COPIED into the server's temp root dir (files in nbs/ are never touched); the cells
are run from the UI (Run > Run All Cells), a slider is moved with the keyboard, and the figure drawn
in the widget's Output area must change. Screenshots land in tests/artifacts/.
"""
import re, sys, time
from pathlib import Path

import nbformat
import pytest

NBS = Path(__file__).resolve().parents[1]/"nbs"
ARTIFACTS = Path(__file__).resolve().parent/"artifacts"
pytestmark = pytest.mark.browser

_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show
# JS: the visible notebook's kernel indicator reports idle (a missing indicator is NOT idle)
_IDLE = """() => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const el = p && p.querySelector('.jp-Notebook-ExecutionIndicator');
  return !!el && el.getAttribute('data-status') === 'idle'; }"""
# JS: no code cell is queued or running ("[*]")
_NO_PENDING = """() => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return !!p && ![...p.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(e => e.textContent.includes('*')); }"""
# JS: src of the figure in the Output area that sits with the first slider (nearest common ancestor)
_FIG_SRC = """() => { const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  let n = p && p.querySelector('.widget-slider');
  while (n && !n.querySelector('.widget-output img')) n = n.parentElement;
  const img = n && n.querySelector('.widget-output img'); return img ? img.getAttribute('src') : null; }"""


def _copy_notebook(src, root):
    "Copy `src` into the server root, without the maintainer-only `nbdev_export()` cell (it needs the repo)."
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and re.search(r"\bnbdev_export\(", c.source))]
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"})
    nbformat.write(nb, root/src.name)
    return src.name


def _harness_notebook(tmp):
    "A minimal stand-in for a chapter: an IntSlider re-drawing a matplotlib figure in an Output widget."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Browser harness self-test"),
        nbformat.v4.new_code_cell(f"import sys, os\nassert os.path.realpath(sys.prefix) == {str(Path(sys.prefix).resolve())!r}, sys.prefix\n"
                                  "import lt_darts_nb"),
        nbformat.v4.new_code_cell(
            "import numpy as np, matplotlib.pyplot as plt, ipywidgets as W\nfrom IPython.display import display\n"
            "s, out = W.IntSlider(value=1, min=1, max=10, description='k'), W.Output()\n"
            "def draw(k):\n"
            "    with out:\n"
            "        out.clear_output(wait=True)\n"
            "        fig, ax = plt.subplots(figsize=(4, 2.5), dpi=80)\n"
            "        x = np.linspace(0, 2*np.pi, 200); ax.plot(x, np.sin(k*x)); ax.set_title(f'k={k}')\n"
            "        display(fig); plt.close(fig)\n"
            "s.observe(lambda ch: draw(ch['new']), names='value')\ndraw(s.value)\nW.VBox([s, out])"),
    ]
    path = tmp/"harness_widget.ipynb"
    nbformat.write(nb, path)
    return path


def _save_and_check_outputs(lab, page, name, timeout=20):
    "Save from the menu (File > Save Notebook), then read the saved copy: every code cell ran, none raised."
    path = lab.root/name
    mtime = path.stat().st_mtime_ns
    page.get_by_role("menuitem", name="File", exact=True).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Save Notebook$")).click()
    deadline, nb = time.monotonic() + timeout, None
    while nb is None:
        assert time.monotonic() < deadline, f"{name} was not saved within {timeout} s"
        time.sleep(0.1)
        if path.stat().st_mtime_ns == mtime: continue
        try: nb = nbformat.read(path, as_version=4)
        except Exception: pass  # caught mid-write: try again
    cells = [c for c in nb.cells if c.cell_type == "code"]
    errors = [f"code cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(cells) for o in c.outputs if o.output_type == "error"]
    assert not errors, "cells raised:\n" + "\n".join(errors)
    not_run = [i for i, c in enumerate(cells) if c.execution_count is None and c.source.strip()]
    assert not not_run, f"code cells {not_run} did not run"


def _run_and_move_slider(lab, page, name, shot):
    "Open `name` in Lab, Run All from the menu, move the first slider; return (before, after) figure srcs."
    t0 = time.monotonic()
    def phase(what): print(f"{time.monotonic()-t0:6.1f}s  {what}")  # shown by pytest when the test fails
    failed = shot.with_name(shot.stem + "-failed.png")
    failed.unlink(missing_ok=True)
    try:
        page.goto(lab.url(name), wait_until="domcontentloaded", timeout=60_000)
        page.wait_for_selector(f"{_PANEL} .jp-Cell", timeout=60_000); phase("notebook shown")
        # the UI indicator says "idle" before any kernel exists: first ask the server for a started,
        # idle kernel with this page's websocket attached, then require the UI indicator to agree
        lab.wait_kernel_connected(name, timeout=60)
        page.wait_for_function(_IDLE, timeout=60_000); phase("kernel idle")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        page.wait_for_selector(f"{_PANEL} .widget-slider", timeout=90_000); phase("slider shown")
        page.wait_for_function(f"() => ({_NO_PENDING})() && ({_IDLE})()", timeout=90_000); phase("all cells ran")
        _save_and_check_outputs(lab, page, name); phase("saved, no errors")
        page.wait_for_function(f"() => !!({_FIG_SRC})()", timeout=30_000)
        before = page.evaluate(_FIG_SRC)
        readout = page.locator(f"{_PANEL} .widget-slider .widget-readout").first
        value0 = readout.text_content()
        handle = page.locator(f"{_PANEL} .widget-slider .noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(3): handle.press("ArrowRight")
        page.wait_for_function(f"(b) => {{ const s = ({_FIG_SRC})(); return !!s && s !== b; }}", arg=before, timeout=30_000)
        phase(f"figure changed (slider {value0} -> {readout.text_content()})")
        assert readout.text_content() != value0, "the slider's readout did not move"
        page.wait_for_timeout(500)  # let the last re-render land before reading it and the screenshots
        after = page.evaluate(_FIG_SRC)
        page.screenshot(path=str(shot))
        page.locator(f"{_PANEL} .jp-OutputArea:has(.widget-slider)").first.screenshot(
            path=str(shot.with_name(shot.stem + "-widget.png")))
        return before, after
    except BaseException:
        try: page.screenshot(path=str(failed))
        except Exception: pass
        raise


def _check(lab, page, name, shot):
    ARTIFACTS.mkdir(exist_ok=True)
    before, after = _run_and_move_slider(lab, page, name, shot)
    assert before.startswith("data:image/"), f"figure is not an inline image: {before[:80]!r}"
    assert after != before, "figure did not change after moving the slider"


def test_harness_widget(lab, page, tmp_path):
    "The harness itself: a generated notebook whose slider re-draws a figure (also checks the kernel's venv)."
    name = _copy_notebook(_harness_notebook(tmp_path), lab.root)
    _check(lab, page, name, ARTIFACTS/"harness_widget.png")


def test_lt_explorer(lab, page, tmp_path):
    "Chapter 01: `lt_explorer()` (a cell the chapter does not run in its tests) re-draws its figure when the ratio slider moves."
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("from lt_darts_nb.data import lt_explorer\nlt_explorer('synthetic')")]
    path = tmp_path/"lt_explorer.ipynb"
    nbformat.write(nb, path)
    _check(lab, page, _copy_notebook(path, lab.root), ARTIFACTS/"01_lt_explorer.png")


def test_schedule_explorer(lab, page):
    "Chapter 06: `schedule_explorer()` re-draws its figure when a slider moves."
    src = NBS/"06_schedules.ipynb"
    if not src.exists(): pytest.fail(f"{src} is missing (the schedules chapter should exist)", pytrace=False)
    name = _copy_notebook(src, lab.root)
    _check(lab, page, name, ARTIFACTS/"06_schedules.png")
