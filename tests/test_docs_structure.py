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
    text = (NBS/"sidebar.yml").read_text()
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
    nb = json.loads((NBS/"index.ipynb").read_text())
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
