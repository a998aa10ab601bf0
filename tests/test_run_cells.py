"""The stand-alone cell runner (tests/run_cells.py) picks the cells `nbdev_test` would, and runs them."""
import json, sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import run_cells as rc  # noqa: E402


def test_selection():
    flags = rc.tst_flags()
    assert flags == {'slow', 'gpu'}
    assert rc.skip_reason('x = 1', set(), flags) == ''
    assert rc.skip_reason('#| gpu\nx = 1', set(), flags) == 'flag gpu'
    assert rc.skip_reason('#| gpu\nx = 1', {'gpu'}, flags) == ''
    assert rc.skip_reason('#| slow\nx = 1', {'gpu'}, flags) == 'flag slow'
    assert rc.skip_reason('#| eval: false\nx = 1', {'gpu', 'slow'}, flags) == 'eval: false'
    assert rc.skip_reason('#| hide\nimport nbdev; nbdev.nbdev_export()', set(), flags) == 'export call'
    assert rc.skip_reason('#| export\ndef f(): pass', set(), flags) == ''


def test_magics_become_pass():
    src = "try: import lt_darts_nb\nexcept ImportError:\n    %pip install -q lt_darts_nb\n%matplotlib inline"
    code = rc.to_python(src)
    assert code.splitlines()[2:] == ['    pass', 'pass']
    compile(code, 'cell', 'exec')


def _nb(path, cells):
    path.write_text(json.dumps(dict(cells=[dict(cell_type='code', source=s, metadata={}, outputs=[], execution_count=None) for s in cells]
                                    + [dict(cell_type='markdown', source='# not code', metadata={})],
                                    metadata={}, nbformat=4, nbformat_minor=5)))
    return path


def test_runs_what_nbdev_test_runs(tmp_path):
    nb = _nb(tmp_path/'t.ipynb', ['#| hide\nfrom nbdev.showdoc import *\nimport os\nseen = [os.environ["IN_TEST"]]',
                                  "open('ran.txt', 'a').write('a')",
                                  '#| slow\nraise RuntimeError("slow cell ran")',
                                  '#| gpu\nseen.append("gpu"); open("ran.txt", "a").write("g")',
                                  '#| eval: false\nraise RuntimeError("eval: false ran")',
                                  'assert seen[0] == "1"'])
    assert rc.run_notebook(nb, verbose=False) == 3
    assert (tmp_path/'ran.txt').read_text() == 'a'          # run from the notebook's folder
    assert rc.run_notebook(nb, {'gpu'}, verbose=False) == 4
    assert (tmp_path/'ran.txt').read_text() == 'aag'
    bad = _nb(tmp_path/'bad.ipynb', ['x = 1', 'assert x == 2, "wrong"'])
    with pytest.raises(AssertionError, match='wrong'): rc.run_notebook(bad, verbose=False)
    assert rc.main([str(bad)]) == 1 and rc.main([str(nb), '--flags', 'gpu']) == 0


def test_without_nbdev(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'nbdev', None)           # as on a machine without nbdev
    monkeypatch.setitem(sys.modules, 'nbdev.showdoc', None)
    nb = _nb(tmp_path/'s.ipynb', ['#| hide\nfrom nbdev.showdoc import *', 'show_doc(len)', '#| hide\nimport nbdev; nbdev.nbdev_export()'])
    assert rc.run_notebook(nb, verbose=False) == 2


def test_without_ipython(tmp_path, monkeypatch, capsys):
    # a bare GPU box has torch and fastcore, not IPython: the chapters' `display(Markdown(...))` still runs, as text
    for m in ('IPython', 'IPython.display'): monkeypatch.setitem(sys.modules, m, None)
    nb = _nb(tmp_path/'i.ipynb', ['from IPython.display import Markdown, display\nfrom IPython import get_ipython',
                                  'display(Markdown("**a table**"))\nassert get_ipython() is None',
                                  'import matplotlib; matplotlib.use("Agg")\nimport matplotlib.pyplot as plt\nplt.ion(); plt.plot([1, 2]); plt.close("all"); plt.ioff()'])
    assert rc.run_notebook(nb, verbose=False) == 3
    assert '**a table**' in capsys.readouterr().out


def test_cell_source_is_inspectable(tmp_path):
    # docments and show_doc read a function's source: a cell's code must be visible to `inspect` as in IPython
    nb = _nb(tmp_path/'d.ipynb', ['import inspect\nfrom fastcore.docments import docments',
                                  'def f(a:int, # the first argument\n      ): return a',
                                  'assert docments(f)["a"] == "the first argument", docments(f)\nassert "def f" in inspect.getsource(f)'])
    assert rc.run_notebook(nb, verbose=False) == 3


def test_without_an_optional_package(tmp_path, monkeypatch, capsys):
    # a bare GPU box has no ipywidgets: a cell that builds an explorer stops there, reported, and the chapter goes on;
    # the same error for a package that is installed, or any other error, still fails the run
    monkeypatch.setitem(sys.modules, 'ipywidgets', None)
    nb = _nb(tmp_path/'w.ipynb', ['from lt_darts_nb.core import require\nran = []',
                                  'ran.append(1); W = require("ipywidgets", "an_explorer"); ran.append(2)',
                                  'assert ran == [1]'])
    assert rc.run_notebook(nb) == 2
    assert 'cell 1: stopped where it needs ipywidgets, not installed here' in capsys.readouterr().out
    bad = _nb(tmp_path/'b.ipynb', ['from lt_darts_nb.core import LTDartsError\nraise LTDartsError("x: the json package is not installed: pip install json")'])
    with pytest.raises(Exception, match='the json package is not installed'): rc.run_notebook(bad, verbose=False)
