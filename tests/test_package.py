"""The package as a user installs it, checked from its exported modules rather than from the notebooks' namespaces:
- every third-party module it imports is installed by its requirements (an import at module level) or by its
  requirements or an extra (an import inside a function, which runs only where that extra is installed);
- every global name its functions and classes read is defined in their module (a helper that was defined in a chapter
  but never exported passes `nbdev_test`, whose cells share one namespace, and fails for the user);
- the exported modules are what the notebooks export (a module edited by hand is caught here, not only by CI)."""
import ast, builtins, configparser, importlib, shutil, subprocess, symtable, sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT/'lt_darts_nb'
MODULES = sorted(p for p in PKG.glob('*.py') if p.name != '_modidx.py')
KERNEL = {'ipython'}          # a function that displays is called in a notebook, whose kernel brings IPython


def _norm(name: str) -> str: return name.lower().replace('_', '-')


def _requirements():
    "(run-time requirement names, names of the extras' requirements), from settings.ini and setup.py's extras."
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(ROOT/'settings.ini')
    run = {_norm(Requirement(r).name) for r in cp['DEFAULT']['requirements'].split()}
    extra = {_norm(Requirement(r).name) for r in cp['DEFAULT']['dev_requirements'].split()}    # the notebooks extra draws on these
    tree = ast.parse((ROOT/'setup.py').read_text(encoding='utf-8'))
    for node in ast.walk(tree):                                  # the literal requirements of `extras = {...}` ('torchvision>=0.19')
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == 'extras' for t in node.targets):
            for c in (c for v in getattr(node.value, 'values', []) for c in ast.walk(v)):     # the values, not the extras' names
                if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value[:1].isalpha():
                    try: extra.add(_norm(Requirement(c.value).name))
                    except Exception: pass
    return run, extra


def _imports(path: Path):
    "(top-level module name, inside a function?) of every absolute import in a module."
    tree, out = ast.parse(path.read_text(encoding='utf-8')), []
    def walk(node, in_fn):
        for ch in ast.iter_child_nodes(node):
            fn = in_fn or isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(ch, ast.Import): out.extend((a.name.split(".")[0], fn) for a in ch.names)
            elif isinstance(ch, ast.ImportFrom) and not ch.level: out.append((ch.module.split('.')[0], fn))
            walk(ch, fn)
    walk(tree, False)
    return out


def test_imports_are_installed_by_the_requirements():
    run, extra = _requirements()
    dists = packages_distributions()
    bad = []
    for p in MODULES:
        for mod, in_fn in _imports(p):
            if mod in sys.stdlib_module_names or mod in ('__future__', 'lt_darts_nb'): continue
            names = {_norm(d) for d in dists.get(mod, [mod])}
            ok = run | ((extra | KERNEL) if in_fn else set())
            if not names & ok: bad.append(f"{p.name}: import {mod} ({'in a function' if in_fn else 'module level'})")
    assert not bad, ('modules that no requirement installs (declare them in settings.ini requirements, or import them '
                     f'inside the function that needs them and name their extra in setup.py): {bad}')


def _global_reads(table):
    "Names that the function and class scopes under `table` read as globals, with the scope's name."
    for ch in table.get_children():
        if ch.get_type() in ('function', 'class'):
            for s in ch.get_symbols():
                if s.is_referenced() and (s.is_global() or s.is_declared_global()) and not s.is_assigned(): yield ch.get_name(), s.get_name()
        yield from _global_reads(ch)


@pytest.mark.parametrize('path', MODULES, ids=lambda p: p.name)
def test_functions_read_only_names_their_module_defines(path):
    mod = importlib.import_module(f'lt_darts_nb.{path.stem}' if path.stem != '__init__' else 'lt_darts_nb')
    known = set(vars(mod)) | set(dir(builtins))
    missing = sorted({f'{fn}: {n}' for fn, n in _global_reads(symtable.symtable(path.read_text(encoding='utf-8'), str(path), 'exec')) if n not in known})
    assert not missing, (f'{path.name} reads names it does not define (a helper defined in the chapter but not exported? '
                         f'mark its cell #| export): {missing}')


def test_the_modules_are_what_the_notebooks_export(tmp_path):
    "`nbdev_export` in a copy of the repository writes exactly the committed modules."
    # this interpreter's own nbdev (a venv run without activating it), not another one earlier on PATH
    exe = Path(sys.executable).parent/'nbdev_export'
    exe = str(exe) if exe.is_file() else shutil.which('nbdev_export')
    if exe is None: pytest.skip('nbdev is not installed (no nbdev_export beside this Python or on PATH)')
    for f in ('settings.ini', 'pyproject.toml', 'setup.py'): shutil.copy(ROOT/f, tmp_path/f)
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc', '.quarto'))
    shutil.copytree(PKG, tmp_path/'lt_darts_nb', ignore=shutil.ignore_patterns('__pycache__'))
    r = subprocess.run([exe], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    new = {p.name: p.read_text(encoding='utf-8') for p in (tmp_path/'lt_darts_nb').glob('*.py')}
    old = {p.name: p.read_text(encoding='utf-8') for p in PKG.glob('*.py')}
    differ = sorted(n for n in new.keys() | old.keys() if new.get(n) != old.get(n))
    assert not differ, (f'lt_darts_nb/ differs from what nbs/ exports in {differ}: make the change in the notebook '
                        '(never in lt_darts_nb/*.py), then run nbdev_export')


@pytest.mark.parametrize("path", MODULES + [PKG/'_modidx.py'], ids=lambda p: p.name)
def test_module_compiles_without_warnings(path):
    "No module warns when Python compiles it (an invalid escape such as `\\c` in a docstring: a SyntaxWarning for every user on 3.12)."
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(path.read_text(encoding='utf-8'), str(path), "exec")
