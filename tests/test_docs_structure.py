"""Fast checks of the docs' structure: every chapter notebook is in the sidebar and linked from the index."""
import json, re
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parents[1]/"nbs"
CHAPTERS = sorted(p.stem for p in NBS.glob("[0-9][0-9]*.ipynb"))
# a relative markdown link to a notebook or its rendered page: [text](00_core.ipynb), (./00_core.html#sec)
_LINK = re.compile(r"\]\(\s*<?([^)\s>#?]+?)\.(?:ipynb|html)(?:[#?][^)\s>]*)?>?(?:\s+\"[^\"]*\")?\s*\)")


def _sidebar_files():
    "Every file named anywhere in nbs/sidebar.yml (strings, or `href:`/`file:` values, at any depth)."
    text = (NBS/"sidebar.yml").read_text(encoding='utf-8')
    try: import yaml
    except ImportError: return re.findall(r"[\w./-]+\.(?:ipynb|qmd|md)\b", text)
    found = []
    def walk(x):
        if isinstance(x, str): found.append(x)
        elif isinstance(x, dict): [walk(v) for v in x.values()]
        elif isinstance(x, list): [walk(v) for v in x]
    walk(yaml.safe_load(text))
    return [f for f in found if re.search(r"\.(?:ipynb|qmd|md)$", f)]


def _index_links():
    "Stems of the relative .ipynb/.html links in the markdown cells of nbs/index.ipynb."
    nb = json.loads((NBS/"index.ipynb").read_text(encoding='utf-8'))
    md = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                   for c in nb["cells"] if c["cell_type"] == "markdown")
    return {Path(m).stem for m in _LINK.findall(md) if "://" not in m and not m.startswith("//")}


def test_there_are_chapters():
    assert CHAPTERS, f"no chapter notebooks (nbs/[0-9][0-9]*.ipynb) in {NBS}"


def test_every_chapter_in_sidebar():
    listed = {Path(f).stem for f in _sidebar_files()}
    missing = [c for c in CHAPTERS if c not in listed]
    assert not missing, f"chapters missing from nbs/sidebar.yml: {', '.join(m + '.ipynb' for m in missing)}"


def test_sidebar_names_existing_files():
    dangling = [f for f in _sidebar_files() if not (NBS/f).exists()]
    assert not dangling, f"nbs/sidebar.yml names files that do not exist: {dangling}"


def test_every_chapter_linked_from_index():
    if not (NBS/"index.ipynb").exists(): pytest.fail("nbs/index.ipynb is missing", pytrace=False)
    linked = _index_links()
    missing = [c for c in CHAPTERS if c not in linked]
    assert not missing, ("chapters not linked from a markdown cell of nbs/index.ipynb (e.g. `[Title](NN_name.ipynb)`): "
                         + ", ".join(m + ".ipynb" for m in missing))


def test_index_links_existing_chapters():
    dangling = sorted(s for s in _index_links() if re.match(r"\d\d", s) and s not in CHAPTERS)
    assert not dangling, f"nbs/index.ipynb links chapters that do not exist: {dangling}"


_COLAB_CELL = ('try: import lt_darts_nb, nbdev', '%pip install -q "lt_darts_nb[notebooks] @ git+')


def _chapter_imports():
    "{top-level module: [chapters]} of the imports in the chapters' own cells (not the exported ones: the package's)."
    import ast, sys
    found = {}
    for nb in sorted(NBS.glob("*.ipynb")):
        for c in json.loads(nb.read_text(encoding='utf-8'))["cells"]:
            src = "".join(c["source"])
            if c["cell_type"] != "code" or re.search(r"^\s*#\|\s*export", src, re.M): continue
            src = "\n".join(re.match(r"\s*", l).group(0) + "pass" if l.lstrip().startswith(("%", "!")) else l
                            for l in src.splitlines())                           # magics and shell escapes
            for n in ast.walk(ast.parse(src)):
                names = ([a.name for a in n.names] if isinstance(n, ast.Import) else
                         [n.module] if isinstance(n, ast.ImportFrom) and n.level == 0 else [])
                for m in names:
                    top = m.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("__future__", "lt_darts_nb"):
                        found.setdefault(top, []).append(nb.name)
    return found


def test_chapters_install_what_they_import_on_colab():
    """Each chapter opens (Colab badge in the index) by installing `lt_darts_nb[notebooks]` where the package or nbdev is
    missing, and that extra with the run-time requirements holds every third-party module the chapters' cells import."""
    from importlib.metadata import packages_distributions, requires, PackageNotFoundError
    from packaging.requirements import Requirement
    for ch in CHAPTERS:
        first = next(c for c in json.loads((NBS/f"{ch}.ipynb").read_text(encoding='utf-8'))["cells"] if c["cell_type"] == "code")
        assert all(s in "".join(first["source"]) for s in _COLAB_CELL), f"{ch}.ipynb: the first code cell is not the Colab install cell"
    try: reqs = [Requirement(r) for r in requires("lt_darts_nb") or []]
    except PackageNotFoundError: pytest.skip("lt_darts_nb is not installed")
    ok = {r.name.lower() for r in reqs if r.marker is None or r.marker.evaluate({"extra": "notebooks"})}
    assert {"nbdev", "ipywidgets"} <= ok, f"the notebooks extra lacks nbdev or ipywidgets (reinstall after editing setup.py): {sorted(ok)}"
    ok |= {"ipython"}                                                            # the kernel's own (Jupyter, Colab)
    dists = packages_distributions()
    missing = {m: chs for m, chs in _chapter_imports().items() if not {d.lower() for d in dists.get(m, [m])} & ok}
    assert not missing, (f"chapters import modules that neither the requirements nor the notebooks extra install: {missing} "
                         "(this reads the installed package's metadata: after editing settings.ini or setup.py, reinstall with "
                         "pip install -e . first)")


def test_export_cell_is_quiet_outside_a_checkout(tmp_path, monkeypatch):
    """Each chapter ends with the cell that exports the package. On Colab (no `settings.ini` above the working folder)
    Jupyter's *Run All* reaches it last: it must neither raise nor write anything there."""
    pytest.importorskip("nbdev")
    monkeypatch.chdir(tmp_path)
    for ch in CHAPTERS:
        code = [c for c in json.loads((NBS/f"{ch}.ipynb").read_text(encoding='utf-8'))["cells"] if c["cell_type"] == "code"]
        src = "".join(code[-1]["source"])
        assert "nbdev_export()" in src, f"{ch}.ipynb: the last code cell is not the export cell"
        exec(compile(src, f"{ch}.ipynb:last", "exec"), {})
    assert not list(tmp_path.iterdir()), f"the export cell wrote {sorted(p.name for p in tmp_path.iterdir())} outside a checkout"


# nbdev 2's cell directives (the words without a colon; `key: value` lines are Quarto's cell options)
_NBDEV_DIRECTIVES = {'export', 'exports', 'exporti', 'default_exp', 'hide', 'exec_doc', 'filter_stream', 'hide_line',
                     'skip_showdoc', 'skip_exec', 'export_and_show', 'default_cls_lvl', 'eval', 'echo', 'output', 'include', 'code-fold'}


def test_cell_directives_are_known():
    """A mistyped flag (`#| slwo`) is not an error to nbdev: the cell would run in the default suite, minutes of a real
    experiment on every CI run. Every `#|` line starts with a known directive, a flag of `tst_flags`, or a Quarto option."""
    import configparser
    cp = configparser.ConfigParser(); cp.read(NBS.parent/"settings.ini")
    known = _NBDEV_DIRECTIVES | set(cp.get("DEFAULT", "tst_flags", fallback="").split())
    bad = []
    for nb in sorted(NBS.glob("*.ipynb")):
        for c in json.loads(nb.read_text(encoding='utf-8'))["cells"]:
            if c["cell_type"] != "code": continue
            for line in "".join(c["source"]).splitlines():
                m = re.match(r"\s*#\|\s*([^\s:]+)(:?)", line)
                if m and not m.group(2) and m.group(1) not in known: bad.append(f"{nb.name}: {line.strip()}")
    assert not bad, f"unknown cell directives (a mistyped flag runs the cell in every test run): {bad}"
