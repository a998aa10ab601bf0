"""The declared dependency floors are the tested ones: every run-time requirement of settings.ini is pinned at its floor in
constraints-oldest.txt, which `.ci/oldest` installs on the oldest supported Python before it runs every chapter."""
import configparser, re
from pathlib import Path
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _settings():
    cp = configparser.ConfigParser(delimiters=['=']); cp.read(ROOT/'settings.ini')
    return cp['DEFAULT']


def _floor(req: Requirement):
    lows = [s.version for s in req.specifier if s.operator == '>=']
    assert len(lows) == 1, f'{req}: declare exactly one lower bound (>=), so that it can be tested'
    return lows[0]


def _pins(path):
    pins = {}
    for line in (ROOT/path).read_text().splitlines():
        line = line.split('#')[0].strip()
        if line:
            name, v = line.split('==')
            pins[name.strip().lower()] = v.strip()
    return pins


def test_every_floor_is_pinned_in_the_oldest_constraints():
    reqs = [Requirement(r) for r in _settings()['requirements'].split()]
    pins = _pins('constraints-oldest.txt')
    assert sorted(r.name.lower() for r in reqs) == sorted(pins), 'constraints-oldest.txt pins exactly the run-time requirements'
    for r in reqs:
        floor, pin = Version(_floor(r)), Version(pins[r.name.lower()])
        assert pin == floor, f'{r}: constraints-oldest.txt tests {pin}; declare that floor or test this one'   # 2.4 == 2.4.0
        assert r.specifier.contains(pin), (r, pin)


def test_dev_floors_agree_and_oldest_python_is_min_python():
    s = _settings()
    run = {Requirement(r).name: Requirement(r) for r in s['requirements'].split()}
    for r in map(Requirement, s['dev_requirements'].split()):
        if r.name in run: assert r.specifier == run[r.name].specifier, f'{r.name}: dev and run-time bounds differ'
    script = (ROOT/'.ci'/'oldest').read_text()
    assert re.search(r'PYTHON:-python' + re.escape(s['min_python']) + r'\}', script), '.ci/oldest runs on min_python'
    wf = (ROOT/'.github'/'workflows'/'test.yaml').read_text()
    assert f"python-version: '{s['min_python']}'" in wf and 'bash .ci/oldest' in wf, 'the GitHub workflow runs .ci/oldest on min_python'
