"""README.md is the rendered nbs/index.ipynb (Quarto cannot run everywhere): fail when their commands drift apart,
or when CI stops running the README's commands."""
import json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"```sh\n(.*?)```", re.S)


def index_markdown() -> str:
    nb = json.loads((ROOT/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    return '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')


def sh_blocks(text: str) -> list:
    return [b.strip() for b in FENCE.findall(text)]


def ci_commands() -> dict:
    src = (ROOT/'.ci'/'run').read_text(encoding='utf-8')
    return dict(re.findall(r"^(SETUP_CMD|MAIN_CMD|TEST_CMD)='(.*)'$", src, re.M))


def test_readme_commands_match_index():
    readme, index = sh_blocks((ROOT/'README.md').read_text(encoding='utf-8')), sh_blocks(index_markdown())
    assert readme, 'README.md has no ```sh blocks'
    assert readme == index, 'README.md and nbs/index.ipynb show different commands: regenerate README.md from the index'


DOCS_LINK = re.compile(r"\]\(https://[^)\s]*?/(\d\d[a-z]?_\w+)\.html")   # a chapter's page on the docs site


def test_readme_markdown_matches_index():
    readme = DOCS_LINK.sub(r"](\1.ipynb", (ROOT/'README.md').read_text(encoding='utf-8'))   # the README points chapter links at the docs site
    for para in index_markdown().split('\n\n'):
        assert para.strip() in readme, f'README.md lacks this paragraph of nbs/index.ipynb: {para[:80]!r}'


def test_readme_chapter_links_work_on_github():
    "GitHub shows README.md at the repository root, where `NN_name.ipynb` does not exist (the chapters are in nbs/)."
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    relative = re.findall(r"\]\((\d\d[a-z]?_\w+\.ipynb)", readme)
    assert not relative, f"README.md links chapters relatively ({', '.join(relative)}): point them at the docs site"
    assert DOCS_LINK.search(readme), 'README.md links no chapter on the docs site'


def test_ci_runs_the_readme_commands():
    cmds, blocks = ci_commands(), sh_blocks((ROOT/'README.md').read_text(encoding='utf-8'))
    assert set(cmds) == {'SETUP_CMD', 'MAIN_CMD', 'TEST_CMD'}
    assert f"{cmds['SETUP_CMD']} && {cmds['MAIN_CMD']}" in blocks, 'the README set-up + main-job command differs from .ci/run'
    assert cmds['TEST_CMD'] in blocks, 'the README test command differs from .ci/run'


def test_test_command_runs_notebooks_and_pytest():
    cmd = ci_commands()['TEST_CMD']
    assert 'nbdev_test' in cmd and 'pytest tests/' in cmd


def test_readme_code_and_output_match_index():
    "Each shown code cell of the index is a ```python block of the README, and its printed output follows it there."
    nb = json.loads((ROOT/'nbs'/'index.ipynb').read_text(encoding='utf-8'))
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    blocks = [b.strip() for b in re.findall(r"```python\n(.*?)```", readme, re.S)]
    for c in nb['cells']:
        src = ''.join(c['source']).strip()
        if c['cell_type'] != 'code' or src.startswith('#| hide'): continue
        src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()   # the README shows code without directives
        assert src in blocks, f'README.md lacks (or shows another version of) this code cell of nbs/index.ipynb: {src[:80]!r}'
        for o in c.get('outputs', []):
            text = ''.join(o.get('text', '')).strip() if o.get('output_type') == 'stream' else ''
            for line in filter(None, (l.strip() for l in text.splitlines())):
                assert line in readme, f"README.md lacks the index's output line {line!r}: regenerate it from the index"
