#!/usr/bin/env python
"""Run a chapter's code cells as `nbdev_test` does, on a machine that has the package, torch and fastcore but not
the notebook tool chain (nbdev, execnb, Jupyter): a bare GPU box, for instance.

    python tests/run_cells.py nbs/07a_step.ipynb --flags gpu

Cells run in order in one namespace, from the notebook's folder, with `IN_TEST=1` (as under `nbdev_test`).
A cell is skipped when it has `#| eval: false`, or a flag of `tst_flags` (settings.ini) that was not asked for, or
when it calls `nbdev_export` (as nbdev_test skips it). IPython magics (`%...`, `!...`) become `pass`. Each cell's source goes into
`linecache`, as IPython puts it, so that `inspect.getsource` (fastcore's docments, `show_doc`) sees it. When nbdev
is not installed its `show_doc` is replaced by a no-op; when IPython is not, `IPython.display`'s `display`, `Markdown`
and `HTML` print their text. A cell that stops because an optional package the package `require`s is not installed
(ipywidgets, for the explorers) is reported and the run goes on. Exit status 1 at the first failing cell, with its
traceback."""
from __future__ import annotations
import argparse, configparser, importlib.util, json, linecache, os, re, subprocess, sys, time, traceback, types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def tst_flags(root:Path=ROOT) -> set:
    "The flags that `nbdev_test` skips unless asked (`tst_flags` in settings.ini)."
    cp = configparser.ConfigParser(); cp.read(root/'settings.ini')
    return set(cp.get('DEFAULT', 'tst_flags', fallback='').split())

def directives(src:str) -> list:
    "The words of a cell's `#|` lines."
    return [w for line in src.splitlines() if (m := re.match(r'\s*#\|\s*(.*)', line)) for w in m.group(1).split()]

def skip_reason(src:str, flags:set, all_flags:set) -> str:
    "Why `nbdev_test --flags FLAGS` would not run this code cell ('' when it would)."
    d = directives(src)
    if 'eval:' in d and d[d.index('eval:') + 1:d.index('eval:') + 2] == ['false']: return 'eval: false'
    off = [w for w in d if w in all_flags and w not in flags]
    if off: return f'flag {off[0]}'
    if 'nbdev_export(' in src: return 'export call'  # nbdev_test's own rule
    return ''

def to_python(src:str) -> str:
    "A cell's source with IPython magics and shell escapes replaced by `pass`."
    return '\n'.join(re.match(r'\s*', l).group(0) + 'pass' if l.lstrip().startswith(('%', '!')) else l for l in src.splitlines())

def _stub_nbdev():
    try: import nbdev.showdoc  # noqa: F401
    except ImportError:
        nb, sd = types.ModuleType('nbdev'), types.ModuleType('nbdev.showdoc')
        sd.show_doc = lambda *a, **k: None; sd.__all__ = ['show_doc']
        nb.showdoc, nb.nbdev_export = sd, lambda *a, **k: None
        sys.modules.update({'nbdev': nb, 'nbdev.showdoc': sd})

class _Shown:
    "What `IPython.display.Markdown` / `HTML` hold, printed as text by the stub's `display`."
    def __init__(self, data=None, *args, **kwargs): self.data = data
    def __repr__(self): return str(self.data)

def _stub_ipython():
    "Where IPython is missing (a bare GPU box), what the chapters import from it: `display` prints, no shell is running."
    try: import IPython.display  # noqa: F401
    except ImportError:
        ip, disp = types.ModuleType('IPython'), types.ModuleType('IPython.display')
        disp.Markdown = disp.HTML = _Shown
        disp.display = lambda *objs, **kwargs: [print(repr(o)) for o in objs] and None
        ip.display, ip.get_ipython, ip.version_info = disp, lambda: None, (0, 0, 0)   # matplotlib: a plain shell
        sys.modules.update({'IPython': ip, 'IPython.display': disp})

def _missing_optional(e:Exception) -> str|None:
    """The optional package that `e` (the package's `require`: "X: the ipywidgets package is not installed: ...") says is
    missing, when it really is missing here; None for any other error."""
    m = re.search(r': the ([\w.]+) package is not installed: ', str(e))
    if type(e).__name__ != 'LTDartsError' or m is None: return None
    try: found = importlib.util.find_spec(m.group(1)) is not None
    except (ImportError, ValueError): found = False
    return None if found else m.group(1)

def run_notebook(path:str|Path, flags=(), verbose:bool=True) -> int:
    "Run the cells of `path` that `nbdev_test --flags FLAGS` runs; returns the number of cells run."
    path = Path(path).resolve()
    cells = [c for c in json.loads(path.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']
    flags, all_flags = set(flags), tst_flags()
    _stub_nbdev(); _stub_ipython()
    in_test, os.environ['IN_TEST'] = os.environ.get('IN_TEST'), '1'
    cwd, ns, n = os.getcwd(), {'__name__': '__main__'}, 0
    os.chdir(path.parent)
    try:
        for i, c in enumerate(cells):
            src = ''.join(c['source'])
            why = skip_reason(src, flags, all_flags)
            if why:
                if verbose: print(f'  cell {i}: skipped ({why})')
                continue
            t = time.time()
            code, fn = to_python(src), f'{path.name} [code cell {i}]'
            # as IPython does: the cell's source in linecache, so `inspect.getsource` (docments, show_doc) sees it
            linecache.cache[fn] = (len(code), None, code.splitlines(True), fn)
            try: exec(compile(code, fn, 'exec'), ns)
            except Exception as e:                  # a widget on a bare box: the optional package it needs is not there
                if (missing := _missing_optional(e)) is None: raise
                if verbose: print(f'  cell {i}: stopped where it needs {missing}, not installed here (an optional package: '
                                  f'the rest of this cell is skipped)', flush=True)
                continue
            n += 1
            if verbose: print(f'  cell {i}: ok ({time.time() - t:.1f} s)', flush=True)
    finally:
        os.chdir(cwd)
        if in_test is None: os.environ.pop('IN_TEST', None)      # the caller's environment as it was (a pytest session)
        else: os.environ['IN_TEST'] = in_test
    return n

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='+', help='notebooks to run')
    ap.add_argument('--flags', default='', help="flags to run as well, space- or comma-separated (e.g. 'gpu')")
    args = ap.parse_args(argv)
    flags = set(re.split(r'[\s,]+', args.flags.strip())) - {''}
    if len(args.notebooks) > 1:       # each in a process of its own, as nbdev_test runs them: a chapter's registrations stay there
        for nb in args.notebooks:
            if subprocess.run([sys.executable, __file__, nb, '--flags', ','.join(sorted(flags))]).returncode: return 1
        return 0
    for nb in args.notebooks:
        print(f'{nb} (flags: {" ".join(sorted(flags)) or "none"})', flush=True)
        try: run_notebook(nb, flags)
        except Exception:
            traceback.print_exc(); print(f'FAIL: {nb}'); return 1
        print(f'ok: {nb}')
    return 0

if __name__ == '__main__': sys.exit(main())
