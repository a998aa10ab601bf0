"""Every `lt_darts_*` command the docs show (README, chapters' markdown, the READMEs of benchmarks/ and results/)
is read by that command's own parser, and a sweep's options are valid: the docs cannot drift from the command line."""
import json, re, shlex
from pathlib import Path
import pytest
from lt_darts_nb.core import command_parser

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(?:sh|bash)?\n(.*?)```", re.S)


def doc_texts() -> dict:
    out = {'README.md': (ROOT/'README.md').read_text(encoding='utf-8')}
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
        out[f'nbs/{nb.name}'] = '\n\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    for p in sorted([*ROOT.glob('benchmarks/*.md'), *ROOT.glob('results/**/README.md')]):
        out[str(p.relative_to(ROOT))] = p.read_text(encoding='utf-8')
    return out


def shown_commands() -> list:
    "(where, command name, arguments) of every `lt_darts_*` command line in a code block of the docs."
    from lt_darts_nb.cli import COMMANDS
    out = []
    for where, text in doc_texts().items():
        for block in BLOCK.findall(text):
            for line in re.sub(r'\\\n\s*', ' ', block).splitlines():
                try: toks = shlex.split(line, comments=True)
                except ValueError: continue
                i = next((k for k, t in enumerate(toks) if t in COMMANDS), None)
                if i is not None: out.append((where, toks[i], [t for t in toks[i + 1:] if t != '...']))   # '...': 'and more options'
    return out


COMMANDS_SHOWN = shown_commands()


def test_the_docs_show_commands():
    names = {name for _, name, _ in COMMANDS_SHOWN}
    assert {'lt_darts_search', 'lt_darts_train', 'lt_darts_sweep', 'lt_darts_pack'} <= names, names


@pytest.mark.parametrize('where,name,args', COMMANDS_SHOWN, ids=[f'{w}:{n}:{i}' for i, (w, n, _) in enumerate(COMMANDS_SHOWN)])
def test_shown_command_parses(where, name, args, capsys):
    import lt_darts_nb.cli as cli
    from lt_darts_nb.sweep import make_sweep
    fn = getattr(cli, name).__wrapped__
    try: a = vars(command_parser(fn, prog=name).parse_args(args))
    except SystemExit: pytest.fail(f'{where}: {name} {shlex.join(args)}: {capsys.readouterr().err.strip()}')
    if name == 'lt_darts_sweep' and not any(str(v).endswith('.json') for v in a.values()):
        for k in ('dry_run', 'verbose', 'pdb', 'xtra'): a.pop(k, None)
        make_sweep(**a)          # option names and values, variants: one-line errors


def test_stored_cpu_taste_was_made_by_the_commands_shown():
    "results/cpu_taste/ holds the runs of the commands its README and the training chapter show (changing one needs a new run)."
    import lt_darts_nb.cli as cli
    shown = [(w, n, a) for w, n, a in COMMANDS_SHOWN if any(t.startswith('runs/cpu_taste/') for t in a)]
    assert {w for w, _, _ in shown} == {'results/cpu_taste/README.md', 'nbs/13_train.ipynb'}, shown
    assert sorted(n for _, n, _ in shown) == ['lt_darts_search', 'lt_darts_search', 'lt_darts_train', 'lt_darts_train']
    for where, name, args in shown:
        parsed = vars(command_parser(getattr(cli, name).__wrapped__, prog=name).parse_args(args))
        run = ROOT/'results'/'cpu_taste'/Path(parsed['out']).name
        timed = re.search(r'Command being timed: "(.*)"', (run.parent/f'{run.name}.log').read_text(encoding='utf-8')).group(1)
        assert shlex.split(timed) == [name, *args], f'{where}: {name} differs from the command in {run.name}.log'
        cfg = json.loads((run/'config.json').read_text(encoding='utf-8'))
        given = [t[2:] for t in args if t.startswith('--') and t[2:] in cfg and t[2:] != 'genotype']
        assert len(given) >= 8 and {k: parsed[k] for k in given} == {k: cfg[k] for k in given}, f'{where}: {run}/config.json'
