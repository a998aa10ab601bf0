"""Every benchmark script runs to the end at toy sizes on the CPU.

The benchmarks are not tests (they time, and nothing here asserts a time); they are what a GPU session runs first,
with little device time to spare. A script broken by a change in the package should fail here, on the CPU, not there.
"""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOY = ['--device', 'cpu', '--C', '4', '--layers', '3', '--steps', '1', '--warmup', '1']


def run(script, *args, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    p = subprocess.run([sys.executable, str(ROOT/'benchmarks'/script), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f'{script} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}'
    return p.stdout


def test_search_step(tmp_path):
    out = run('bench_search_step.py', *TOY, '--size', '16', '--batch', '8', '--eval_batch', '32,64', '--eval_batches', '1',
              '--json', str(tmp_path/'s.json'))
    r = json.loads((tmp_path/'s.json').read_text())
    names = [row['variant'] for row in r['rows']]
    assert names[:2] == ['straightforward', 'all levers off'] and '+ batched edges' in names, names
    budget = r['epoch_budget']
    assert [(b['variant'], b['eval_batch']) for b in budget][:2] == [('all levers off', 32), ('all levers off', 64)]
    for b in budget:
        s = b['search_s']
        assert s['eval_every=1'] > s['eval_every=10'] > s['eval_every=0'] > 50 * b['steps_epoch_s'], b
    assert 'epoch budget of the real search' in out


def test_train_step(tmp_path):
    run('bench_train_step.py', *TOY, '--size', '32', '--batch', '4', '--json', str(tmp_path/'t.json'))
    rows = json.loads((tmp_path/'t.json').read_text())['rows']
    assert rows[0]['variant'] == 'straightforward' and len(rows) >= 3


def test_supernet(tmp_path):
    run('bench_supernet.py', *TOY, '--size', '16', '--batch', '8', '--json', str(tmp_path/'n.json'))
    assert json.loads((tmp_path/'n.json').read_text())


def test_profile_search_step():
    out = run('profile_search_step.py', '--device', 'cpu', '--C', '4', '--layers', '3', '--steps', '1', '--batch', '4',
              '--rows', '3', '--batch_edges')
    assert 'batch_edges=True' in out and 'ms/step' in out


def test_loader():
    out = run('bench_loader.py', '--device', 'cpu', '--batches', '3', '--warmup', '1', '--no-torchvision')
    assert 'DeviceLoader' in out, out[-2000:]


def test_determinism(tmp_path):
    run('determinism.py', '--device', 'cpu', '--epochs', '1', '--max_steps', '2', '--C', '4', '--layers', '3', '--json', str(tmp_path/'d.json'))
    d = json.loads((tmp_path/'d.json').read_text())
    assert d['epochs'][0]['same_genotype'] is True           # on a CPU two runs with one seed are identical


def test_step_equivalence(tmp_path):
    run('step_equivalence.py', '--device', 'cpu', '--C', '4', '--layers', '3', '--size', '8', '--steps', '1,2', '--search_steps', '2',
        '--json', str(tmp_path/'e.json'))
    d = json.loads((tmp_path/'e.json').read_text())
    assert sorted(d) == sorted([f'n{n} eager vs {k}' for n in (1, 2) for k in ('eager', 'batched eager')]
                               + ['search bbn_alr eager vs eager']), sorted(d)   # no graph rows on a CPU
    assert all(d[f'n{n} eager vs eager'][g]['max_abs'] == 0 for n in (1, 2) for g in ('arch', 'params', 'buffers'))
    s = d['search bbn_alr eager vs eager']                    # the real BBN search, twice: the floor the graph is held to
    assert s['arch']['n'] == 2 and s['params_and_buffers']['n'] > 100, s
    assert s['arch']['max_abs'] == s['params_and_buffers']['max_abs'] == s['losses']['max_abs'] == 0, s
    assert d['n1 eager vs batched eager']['params']['max_abs'] < 1e-3

def test_gpu_checks_script(tmp_path):
    "The one-command GPU checks: valid bash, every script and notebook it runs exists, and without a GPU it stops at once."
    sh = ROOT/'benchmarks'/'gpu_checks.sh'
    assert subprocess.run(['bash', '-n', str(sh)]).returncode == 0
    text = sh.read_text()
    for path in set(__import__('re').findall(r'((?:benchmarks|tests)/\w+\.py|nbs/\w+\.ipynb)', text)):
        assert (ROOT/path).is_file(), path
    p = subprocess.run(['bash', str(sh), str(tmp_path/'out')], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHON=sys.executable))
    assert p.returncode == 1 and 'no CUDA device' in p.stderr, (p.returncode, p.stdout, p.stderr)
    assert not (tmp_path/'out').exists()                      # nothing written
    p = subprocess.run(['bash', str(sh), str(tmp_path/'out')], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHON=sys.executable, GPU_STEPS='env,bench_search_stp'))
    assert p.returncode == 2 and "GPU_STEPS names no step 'bench_search_stp': choose among env step_equivalence" in p.stderr, p.stderr
    for bad in (',', ' '):                                    # names nothing: not 'run nothing and pass'
        p = subprocess.run(['bash', str(sh), str(tmp_path/'out')], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PYTHON=sys.executable, GPU_STEPS=bad))
        assert p.returncode == 2 and 'GPU_STEPS names no step: unset it' in p.stderr, p.stderr
    fake = tmp_path/'py'; fake.write_text('#!/bin/sh\nexit 0\n'); fake.chmod(0o755)   # passes the CUDA check, runs each step as a no-op
    p = subprocess.run(['bash', str(sh), str(tmp_path/'out2')], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHON=str(fake), GPU_STEPS='env, cells_step'))
    assert p.returncode == 0 and 'summary: env=0 cells_step=0' in p.stdout, p.stdout   # ', ' as well as ','
    assert sorted(f.name for f in (tmp_path/'out2').iterdir()) == ['cells_step.log', 'env.log']


def test_concurrency(tmp_path):
    out = run('bench_concurrency.py', '--device', 'cpu', '--C', '4', '--layers', '3', '--size', '16', '--batch', '4',
              '--jobs', '2', '--seconds', '0.5', '--warmup', '1', '--json', str(tmp_path/'c.json'))
    r = json.loads((tmp_path/'c.json').read_text())
    assert [row['jobs'] for row in r['rows']] == [1, 2] and r['mps'] is None     # 1 first, the baseline; no MPS on a CPU
    assert r['rows'][0]['ratio'] == 1.0 and len(r['rows'][1]['per_process_images_per_s']) == 2
    assert all(s >= 5 for row in r['rows'] for s in row['steps'])               # each looks at the clock every 5 steps
    assert 'img/s together' in out
