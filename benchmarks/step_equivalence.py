"""Does a captured (CUDA-graph) search step take the same steps as the eager one, and batched edges the same as
unbatched ones? Runs the step chapter's small supernet (C=8, 5 cells, batches of 32) for 1 and 20 steps, with
cuDNN deterministic, in each step mode, and prints the largest difference of the architecture weights, the
parameters and the buffers against the eager, unbatched run (and against a second eager run: the floor). Then, for
each of `--methods` (default: bbn_alr, whose step sees two weight batches, a mixed architecture batch and a mixing
weight that changes every step), two short real searches (`search`, synthetic data, `deterministic=True`) in the eager
and the captured step, compared the same way from their checkpoints, with their histories' losses. Usage:

    python benchmarks/step_equivalence.py --device cuda --json results/gpu_checks/step_equivalence_h200.json

On the CPU it runs the eager rows only (the graph needs CUDA). `results/gpu_checks/README.md` reads the H200 result."""
import argparse, json, tempfile, warnings
from pathlib import Path
import torch, torch.nn.functional as F
from lt_darts_nb.search_space import SearchNetwork
from lt_darts_nb.architect import Architect
from lt_darts_nb.step import SearchStep
from lt_darts_nb.search import search, tiny_config
from lt_darts_nb.core import load_checkpoint

wl = lambda m, b: (lambda z: (F.cross_entropy(z, b[1]), z, b[1]))(m(b[0]))   # the step chapter's losses
al = lambda m, b: F.cross_entropy(m(b[0]), b[1])

def run(mode:str, n:int, device, batched:bool=False, C:int=8, layers:int=5, size:int=32):
    "The supernet after `n` steps of `SearchStep(mode=mode)`, from the same seed and batches."
    torch.manual_seed(0); torch.backends.cudnn.deterministic = True; torch.backends.cudnn.benchmark = False
    m = SearchNetwork(C=C, n_classes=10, layers=layers).to(device); m.batch_edges = batched
    opt = torch.optim.SGD(m.weights(), 0.025, momentum=0.9, weight_decay=3e-4)
    st = SearchStep(m, opt, Architect(m, lr=3e-4, weight_decay=1e-3), wl, al, mode=mode)
    g = torch.Generator(device=device).manual_seed(1)
    for i in range(n):
        mk = lambda: (torch.randn(32, 3, size, size, device=device, generator=g), torch.randint(0, 10, (32,), device=device, generator=g))
        st(mk(), mk(), 0.025 * (0.99 ** i), 3e-4 * (1 - i / n))
    if device.type == 'cuda': torch.cuda.synchronize()
    return m

def diff(a, b) -> dict:
    "Largest absolute difference per group of tensors, and how many tensors differ by more than 1e-3."
    out = {}
    for k, f in (('arch', lambda m: list(m.arch_parameters())), ('params', lambda m: list(m.parameters())),
                 ('buffers', lambda m: [x.float() for x in m.buffers()])):
        d = [(x - y).abs().max().item() for x, y in zip(f(a), f(b))]
        out[k] = dict(max_abs=max(d), n_over_1e3=sum(t > 1e-3 for t in d), n=len(d))
    return out

def run_search(method:str, mode:str, device, out:Path, C:int=8, layers:int=5, size:int=32, steps:int=10) -> dict:
    "Weights, alphas and buffers (the checkpoint's model state) and the history of a 2-epoch search in step mode `mode`."
    cfg = tiny_config(method=method, device=device.type, step_mode=mode, deterministic=True, epochs=2, max_steps=steps,
                      C=C, layers=layers, synthetic_size=size, synthetic_n_max=400, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')          # the CPU: 'graph' falls back to eager, saying so
        r = search(cfg, out=out, progress=False, verbose=False)
    env = json.loads((out/'env.json').read_text())        # the step the run really took (a failed capture falls back, warning)
    if device.type == 'cuda' and env.get('step_mode') != mode:
        raise SystemExit(f'{method}: step_mode={mode!r} ran as {env.get("step_mode")!r} ({env.get("step_fallback")}): no comparison to report')
    return dict(state=load_checkpoint(out/'checkpoint.pt')['model'], history=r.history, step_mode=env.get('step_mode'))

def diff_search(a:dict, b:dict) -> dict:
    "`diff` for two searches: the alphas, the other parameters and buffers of their model states, and their losses."
    arch = lambda k: k.startswith('alpha') or '.alpha' in k
    out = {}
    for name, keep in (('arch', arch), ('params_and_buffers', lambda k: not arch(k))):
        d = [(a['state'][k].float() - b['state'][k].float()).abs().max().item() for k in a['state'] if keep(k) and a['state'][k].numel()]
        out[name] = dict(max_abs=max(d, default=0.0), n_over_1e3=sum(t > 1e-3 for t in d), n=len(d))
    out['step_modes'] = [a['step_mode'], b['step_mode']]
    out['losses'] = dict(max_abs=max(abs(x[k] - y[k]) for x, y in zip(a['history'], b['history'])
                                     for k in ('train_loss', 'val_loss') if k in x))
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--device', default='cuda'); p.add_argument('--json', default='')
    p.add_argument('--C', type=int, default=8); p.add_argument('--layers', type=int, default=5)
    p.add_argument('--size', type=int, default=32, help='image size'); p.add_argument('--steps', default='1,20', help='step counts, comma-separated')
    p.add_argument('--methods', default='bbn_alr', help="methods of the real searches compared, comma-separated ('' for none)")
    p.add_argument('--search_steps', type=int, default=10, help='steps per epoch of those searches (2 epochs)')
    a = p.parse_args(); device = torch.device(a.device)
    net = dict(C=a.C, layers=a.layers, size=a.size)
    modes = ['graph'] * (device.type == 'cuda')
    res = {}
    for n in map(int, a.steps.split(',')):
        e = run('eager', n, device, **net)
        res[f'n{n} eager vs eager'] = diff(e, run('eager', n, device, **net))
        for mode in modes: res[f'n{n} eager vs {mode}'] = diff(e, run(mode, n, device, **net))
        b = run('eager', n, device, True, **net)
        res[f'n{n} eager vs batched eager'] = diff(e, b)
        for mode in modes:
            g = run(mode, n, device, True, **net)
            res[f'n{n} eager vs batched {mode}'] = diff(e, g)
            res[f'n{n} batched eager vs batched {mode}'] = diff(b, g)     # capture alone, with batched edges
    with tempfile.TemporaryDirectory() as tmp:
        for m in filter(None, a.methods.split(',')):
            kw = dict(C=a.C, layers=a.layers, size=a.size, steps=a.search_steps)
            e = run_search(m, 'eager', device, Path(tmp)/f'{m}_e1', **kw)
            res[f'search {m} eager vs eager'] = diff_search(e, run_search(m, 'eager', device, Path(tmp)/f'{m}_e2', **kw))
            for mode in modes: res[f'search {m} eager vs {mode}'] = diff_search(e, run_search(m, mode, device, Path(tmp)/f'{m}_{mode}', **kw))
    for k, v in res.items(): print(k, v)
    if a.json: Path(a.json).write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
