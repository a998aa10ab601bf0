"""How deterministic is a search? Run the same small search twice with the same seed (and optionally with
`deterministic=True`) and print the largest differences of alphas and metrics. Usage:
python benchmarks/determinism.py --device cuda --out runs/det [--deterministic] [--json results.json]"""
import argparse, json, shutil, tempfile, numpy as np, torch
from pathlib import Path
from lt_darts_nb.search import search, SearchConfig
from lt_darts_nb.core import env_info

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--device', default='cpu'); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--max_steps', type=int, default=10); p.add_argument('--deterministic', action='store_true')
    p.add_argument('--C', type=int, default=16, help='initial channels'); p.add_argument('--layers', type=int, default=8, help='cells')
    p.add_argument('--json', default=''); a = p.parse_args()
    cfg = SearchConfig(dataset='synthetic', imb_ratio=100, synthetic_n_max=1000, synthetic_size=32, epochs=a.epochs,
                       max_steps=a.max_steps, device=a.device, deterministic=a.deterministic, C=a.C, layers=a.layers)
    tmp = Path(tempfile.mkdtemp())
    h = [search(cfg, out=tmp/f'run{i}', progress=False, verbose=False).history for i in range(2)]
    runs = [json.loads((tmp/f'run{i}'/'env.json').read_text()) for i in range(2)]   # the step each run really took
    out = dict(config=cfg.to_dict(), env=env_info(a.device), epochs=[],
               step_modes=[{k: r.get(k) for k in ('step_mode', 'step_fallback')} for r in runs])
    for r0, r1 in zip(*h):
        d = dict(epoch=r0['epoch'], alpha_normal_maxdiff=float(np.abs(np.array(r0['alpha_normal']) - np.array(r1['alpha_normal'])).max()),
                 alpha_reduce_maxdiff=float(np.abs(np.array(r0['alpha_reduce']) - np.array(r1['alpha_reduce'])).max()),
                 train_loss_diff=abs(r0['train_loss'] - r1['train_loss']), test_acc_diff=abs(r0['test_acc'] - r1['test_acc']),
                 same_genotype=r0['genotype'] == r1['genotype'])
        out['epochs'].append(d); print(d)
    shutil.rmtree(tmp)
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1))

if __name__ == '__main__': main()
