#!/usr/bin/env python
"""One full DARTS search step (architecture step + weight step) of the package's `SearchStep` against a straightforward
implementation of the same step, in the same process, at the search configuration (C=16, 8 cells, batch 64, 32x32
images, 10 classes). Prints images/s (weight-batch images per second; each step also reads one validation batch of the
same size), the ratio to the straightforward step, and memory, for a ladder of levers switched on one after another,
so each row shows what one lever adds:

    straightforward      the literal per-operation supernet loop (`naive=True`), NCHW, torch's default optimisers,
                         the DARTS first-order step written out by hand (below)
    all levers off       the package's `SearchStep` with every lever off (its architect differentiates with respect to
                         the alphas only, where the reference DARTS code back-propagates into every weight too)
    + shared work        the supernet's fast path (shared ReLUs and poolings, no `none` term)
    + channels-last      NHWC model and input
    + fused optimisers   torch's fused SGD and Adam kernels
    + bf16 autocast      (CUDA by default; --amp on the CPU)
    + CUDA graph         the whole step captured once and replayed (CUDA)
    + batched edges      each candidate run once on all edges leaving the states ready together
                         (`SearchNetwork.batch_edges`): fewer, larger kernels
    + torch.compile      (only with --compile: compiling takes minutes)

Variants run interleaved (one step of each in turn) so that load changes hit all alike; the median step time counts.
Then the epoch budget of the real search (CIFAR-10-LT, ratio 100, DARTS' 50/50 split) for the slowest and the fastest
package variant: the epoch's steps at the measured step time, and the epoch's evaluation (`search`'s `evaluate` over the
validation half and the balanced test set, eval mode, no gradients) at each --eval_batch size, timed on
--eval_batches batches (default: all of them on CUDA, about 512 images on the CPU) and scaled to the whole sets; a
50-epoch search's total follows for eval_every 1, 10 and 0. The step is a cross-entropy step ('ce', 'rs', 'rw'); a BBN
search ('bbn', 'bbn_alr') sees two weight batches and a mixed architecture batch per step, about twice the work
(`results/timing/`: a captured bbn_alr step took about twice this benchmark's captured step on an H200).
Memory: on CUDA the peak allocated during one step above what was allocated before it (a captured step: during its
warm-up and capture, since a replay allocates nothing); on the CPU the bytes autograd
saves for the backward pass of one weight-loss forward. Usage:

    OMP_NUM_THREADS=1 python benchmarks/bench_search_step.py --device cpu --steps 5 --json results/bench/search_step_cpu.json
    python benchmarks/bench_search_step.py --device cuda --steps 30 --json results/bench/search_step_h200.json
"""
from __future__ import annotations
import argparse, gc, json, math, os, statistics, sys, time, warnings
import numpy as np
import torch
import torch.nn.functional as F
from lt_darts_nb.core import get_device, env_info, save_json
from lt_darts_nb.data import lt_counts, search_split
from lt_darts_nb.search import evaluate, n_evaluations
from lt_darts_nb.search_space import SearchNetwork
from lt_darts_nb.architect import Architect
from lt_darts_nb.step import SearchStep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_supernet import saved_bytes, release_host_memory, sync   # noqa: E402


class Straightforward:
    "The DARTS first-order search step as one writes it from the paper: alphas by Adam on a val batch, then weights by SGD."
    name = 'straightforward'
    def __init__(self, args, device):
        torch.manual_seed(0)
        self.model = SearchNetwork(args.C, 10, args.layers, naive=True, memory_format='contiguous').to(device)
        self.w_opt = torch.optim.SGD(self.model.weights(), 0.025, momentum=0.9, weight_decay=3e-4)
        self.a_opt = torch.optim.Adam(self.model.arch_parameters(), 3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
        self.device, self.channels_last = device, False
    def __call__(self, b, v):
        self.a_opt.zero_grad()
        F.cross_entropy(self.model(v[0]), v[1]).backward()          # also fills weight grads, cleared below
        self.a_opt.step()
        self.w_opt.zero_grad()
        loss = F.cross_entropy(self.model(b[0]), b[1])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.weights(), 5.0)
        self.w_opt.step()
        return loss
    def loss(self, b): return F.cross_entropy(self.model(b[0]), b[1])


class Package:
    "The package's `SearchStep` with a set of levers."
    def __init__(self, name, args, device, shared=False, channels_last=False, fused=False, amp='', mode='eager', batched=False):
        torch.manual_seed(0)
        self.name, self.device, self.channels_last = name, device, channels_last
        m = SearchNetwork(args.C, 10, args.layers, naive=not shared, memory_format='keep').to(device)
        if channels_last: m = m.to(memory_format=torch.channels_last)
        m.batch_edges = batched
        self.model = m
        w_opt = torch.optim.SGD(m.weights(), 0.025, momentum=0.9, weight_decay=3e-4)
        arch = Architect(m, lr=3e-4, weight_decay=1e-3)
        wl = lambda mm, bb: (lambda z: (F.cross_entropy(z, bb[1]), z, bb[1]))(mm(bb[0]))
        al = lambda mm, bb: F.cross_entropy(mm(bb[0]), bb[1])
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            self.step = SearchStep(m, w_opt, arch, wl, al, grad_clip=5.0, amp=amp, mode=mode, fused=fused)
        self.warned = [str(x.message) for x in w]
    def __call__(self, b, v): return self.step(b, v, 0.025, 3e-4)[0]
    def loss(self, b):
        with self.step._autocast(): return F.cross_entropy(self.model(b[0]), b[1])


def parse_args(doc:str, argv, batch:int, C:int, layers:int, extra=()):
    "The options both step benchmarks take (`extra`: more `(flags, kwargs)` for `add_argument`); returns `(args, device)`."
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:N' or 'auto'")
    ap.add_argument('--batch', type=int, default=batch)
    ap.add_argument('--steps', type=int, default=5, help='timed steps per variant')
    ap.add_argument('--warmup', type=int, default=5, help='untimed steps per variant first (graph mode captures after 3)')
    ap.add_argument('--C', type=int, default=C, help='initial channels')
    ap.add_argument('--layers', type=int, default=layers, help='cells')
    ap.add_argument('--size', type=int, default=32, help='image height and width')
    ap.add_argument('--amp', action='store_true', help='include the bf16 lever on the CPU too')
    ap.add_argument('--compile', action='store_true', help='include torch.compile (minutes of compile time)')
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    for flags, kw in extra: ap.add_argument(*flags, **kw)
    args = ap.parse_args(argv)
    device = get_device(args.device)
    torch.backends.cudnn.benchmark = device.type == 'cuda'
    return args, device


def main(argv=None):
    args, device = parse_args(__doc__, argv, batch=64, C=16, layers=8, extra=[
        (('--eval_batch',), dict(default='512,2048', help='evaluation batch sizes for the epoch budget, comma-separated')),
        (('--eval_batches',), dict(type=int, default=0, help='evaluation batches timed per size (0: the whole sets on CUDA, about 512 images on the CPU)'))])
    cuda = device.type == 'cuda'

    ladder = lever_ladder(dict(shared=False, channels_last=False, fused=False, amp='', mode='eager', batched=False),
                          [('+ shared work', dict(shared=True)), ('+ channels-last', dict(channels_last=True)),
                           ('+ fused optimisers', dict(fused=True))], args, cuda,
                          last=[('+ batched edges', dict(batched=True))])
    variants = [Straightforward(args, device)] + [Package(n, args, device, **kw) for n, kw in ladder]
    levers = {'straightforward': None, **{n: kw for n, kw in ladder}}

    data = random_batches(args, device, parts=2)   # (weight batch, validation batch)

    print(f'search step C={args.C} layers={args.layers} batch={args.batch} {args.size}x{args.size} on {device} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} CPU threads), {args.warmup} warm-up + {args.steps} timed steps',
          flush=True)
    rows = run_ladder(variants, levers, data, args, device, argv, __file__)
    budget = epoch_budget([v for v in variants if v.name in (rows[1]['variant'], max(rows[1:], key=lambda r: r['ratio'])['variant'])],
                          {r['variant']: r['median_s'] for r in rows}, args, device)
    if args.json:
        with open(args.json) as f: d = json.load(f)
        d['epoch_budget'] = budget; save_json(d, args.json)
    return rows


def epoch_budget(variants, step_s:dict, args, device, ratio:float=100., epochs:int=50) -> list:
    "Print and return the epoch budget (steps + evaluation) of the real search for `variants` (see the module's docstring)."
    counts = lt_counts(5000, 10, ratio)                          # CIFAR-10-LT as the search builds it
    tr, va = search_split(np.repeat(np.arange(10), counts), 0.5)
    steps, n_eval = len(tr) // args.batch, len(va) + 10_000     # weight-half batches (drop_last); validation half + test set
    g = torch.Generator().manual_seed(2)
    out = []
    print(f'\nepoch budget of the real search (CIFAR-10-LT ratio {ratio:g}: {steps} steps of {args.batch}; evaluation of '
          f'{len(va)} validation + 10000 test images), {epochs} epochs (cross-entropy steps; a BBN step is about twice):')
    print(f"{'variant':<40} {'eval batch':>10} {'steps/epoch':>12} {'eval/epoch':>11} {'eval_every=1':>13} {'=10':>8} {'=0':>8}")
    for v in variants:
        amp = (getattr(v, 'step', None) and v.step.amp) or ''
        for eb in (int(b) for b in str(args.eval_batch).split(',')):
            k = args.eval_batches or (math.ceil(n_eval / eb) if device.type == 'cuda' else max(1, 512 // eb))   # CPU: ~512 images
            x = torch.randn(eb, 3, args.size, args.size, generator=g).to(device)
            if v.channels_last: x = x.contiguous(memory_format=torch.channels_last)
            batches = [(x, torch.randint(0, 10, (eb,), generator=g).to(device))] * k
            evaluate(v.model, batches[:1], lambda m, xx: m(xx), 10, amp=amp); sync(device)      # warm-up (cudnn autotune)
            t = time.perf_counter(); evaluate(v.model, batches, lambda m, xx: m(xx), 10, amp=amp); sync(device)
            ev = (time.perf_counter() - t) / k * math.ceil(n_eval / eb)
            st = step_s[v.name] * steps
            tot = {e: epochs * st + ev * n_evaluations(epochs, e) for e in (1, 10, 0)}
            out.append(dict(variant=v.name, eval_batch=eb, eval_batches_timed=k, steps_per_epoch=steps, step_s=step_s[v.name],
                            steps_epoch_s=st, eval_epoch_s=ev, search_s={f'eval_every={e}': t_ for e, t_ in tot.items()}))
            print(f'{v.name:<40} {eb:>10} {_dur(st):>12} {_dur(ev):>11} {_dur(tot[1]):>13} {_dur(tot[10]):>8} {_dur(tot[0]):>8}'
                  + (f'  (eval timed on {k} of {math.ceil(n_eval / eb)} batches)' if k < math.ceil(n_eval / eb) else ''))
            if device.type != 'cuda': release_host_memory()
    return out


def _dur(s:float) -> str: return f'{s:.1f} s' if s < 120 else f'{s / 60:.1f} min' if s < 7200 else f'{s / 3600:.1f} h'


def lever_ladder(off:dict, rungs:list, args, cuda:bool, last:list=()) -> list:
    """`[(name, levers), ...]`: every lever off, then each rung of `rungs` switched on in turn (cumulative), then
    bf16 (CUDA, or --amp), the CUDA graph (CUDA), the rungs of `last` and, with --compile, torch.compile instead of the graph."""
    ladder, lev = [('all levers off', dict(off))], dict(off)
    for name, kw in (rungs + [('+ bf16 autocast', dict(amp='bf16'))] * (cuda or args.amp)
                     + [('+ CUDA graph', dict(mode='graph'))] * cuda + list(last)):
        lev.update(kw); ladder.append((name, dict(lev)))
    if args.compile:
        ladder.append(('+ torch.compile (instead of the graph)' if cuda else '+ torch.compile', dict(lev, mode='compile')))
    return ladder


def random_batches(args, device, parts:int=1, n:int=4) -> dict:
    "`{channels_last: [(batch, ...) * n]}`: random `(x, y)` batches of `args.batch` images, `parts` per step, in both layouts."
    g = torch.Generator().manual_seed(1)
    def batch(cl):
        x = torch.randn(args.batch, 3, args.size, args.size, generator=g).to(device)
        if cl: x = x.contiguous(memory_format=torch.channels_last)
        return x, torch.randint(0, 10, (args.batch,), generator=g).to(device)
    return {cl: [tuple(batch(cl) for _ in range(parts)) for _ in range(n)] for cl in (False, True)}


def run_ladder(variants, levers, data, args, device, argv, script):
    """Time `variants` interleaved (`args.warmup` untimed and `args.steps` timed calls each, on `data[channels_last][i % 4]`),
    print the table (images/s, ms/step, ratio to the first variant, memory) and write `args.json`. Shared by the step benchmarks."""
    cuda = device.type == 'cuda'
    times, warm_peak = {v.name: [] for v in variants}, {v.name: 0 for v in variants}
    for i in range(args.warmup):
        for v in variants:
            if cuda: before = torch.cuda.memory_allocated(device); torch.cuda.reset_peak_memory_stats(device)
            t = time.perf_counter(); v(*data[v.channels_last][i % 4]); sync(device)
            if cuda: warm_peak[v.name] = max(warm_peak[v.name], torch.cuda.max_memory_allocated(device) - before)
            if i == 0: print(f'  first step {v.name}: {time.perf_counter() - t:.2f} s', flush=True)
            if not cuda: release_host_memory()
    for i in range(args.steps):
        for v in variants:
            b = data[v.channels_last][i % 4]
            sync(device); t = time.perf_counter(); v(*b); sync(device)
            times[v.name].append(time.perf_counter() - t)
            if not cuda: release_host_memory()

    rows, base = [], statistics.median(times[variants[0].name])
    for v in variants:
        med = statistics.median(times[v.name])
        if cuda:
            torch.cuda.empty_cache(); sync(device)
            before = torch.cuda.memory_allocated(device); torch.cuda.reset_peak_memory_stats(device)
            v(*data[v.channels_last][0]); sync(device)
            mem_b = torch.cuda.max_memory_allocated(device) - before
            mem = f'step peak {mem_b / 2**20:.0f} MiB'
            if getattr(getattr(v, 'step', None), 'mode', 'eager') == 'graph':   # a replay allocates nothing: its memory was taken at capture
                mem_b = warm_peak[v.name]; mem = f'capture peak {mem_b / 2**20:.0f} MiB'
        else:
            mem_b = saved_bytes(lambda: v.loss(data[v.channels_last][0][0]))
            mem = f'saved activations {mem_b / 2**20:.0f} MiB'
        rows.append(dict(variant=v.name, levers=levers[v.name], median_s=med, min_s=min(times[v.name]),
                         images_per_s=args.batch / med, ratio=base / med, memory=mem, memory_bytes=mem_b,
                         mode=getattr(getattr(v, 'step', None), 'mode', 'eager'), warnings=getattr(v, 'warned', [])))
    print(f"\n{'variant':<40} {'img/s':>8} {'ms/step':>9} {'ratio':>7}  memory")
    for r in rows:
        print(f"{r['variant']:<40} {r['images_per_s']:8.1f} {r['median_s'] * 1e3:9.1f} {r['ratio']:6.2f}x  {r['memory']}"
              + (f"  (ran {r['mode']})" if r['levers'] and r['levers']['mode'] != r['mode'] else ''))
    best = max(rows[1:], key=lambda r: r['ratio'])
    print(f"\nfastest package variant on {device.type}: {best['variant']!r}, {best['ratio']:.2f}x vs {variants[0].name}")
    if args.json:
        save_json(dict(args=vars(args), device=str(device), env=env_info(device), rows=rows,
                       command='python ' + ' '.join([os.path.relpath(script)] + (argv if argv is not None else sys.argv[1:]))), args.json)
    return rows


if __name__ == '__main__':
    main()
