#!/usr/bin/env python
"""Throughput and memory of the DARTS supernet (`lt_darts_nb.search_space.SearchNetwork`): the shared-work fast path
against the literal per-operation reference loop (`naive=True`), in the same process, on the search configuration
(C=16, 8 cells, batch 64, 32x32 images, 10 classes).

Each timed step is one forward pass, cross-entropy loss and backward pass (all weights and alphas get gradients).
Variants run interleaved (one step of each in turn), so a change in machine load affects all of them alike; we report
the median step time. Memory: the bytes of tensors autograd saves for the backward pass (activation memory, any
device), and on CUDA the peak of `torch.cuda.max_memory_allocated` during one step above what was allocated before it.

Variants: the naive loop and the fast path, each in float32 with contiguous (NCHW) tensors and with channels-last
(NHWC) model and input, on CUDA also under bf16 autocast; on the CPU also the fast path as a user gets it by default
(NCHW input, `memory_format='auto'`, which converts to channels-last inside). Usage:

    python benchmarks/bench_supernet.py --device cpu --steps 5 --warmup 1
    python benchmarks/bench_supernet.py --device cuda --json results/bench_supernet_cuda.json
"""
from __future__ import annotations
import argparse, contextlib, ctypes, gc, json, statistics, sys, time
import torch
import torch.nn.functional as F
from lt_darts_nb.core import get_device, env_info, save_json
from lt_darts_nb.search_space import SearchNetwork


def saved_bytes(fn) -> int:
    "Run `fn()` and return the bytes of the distinct tensors autograd saved for backward."
    seen = {}
    def pack(t):
        try: key = (t.untyped_storage().data_ptr(), t.device)
        except Exception: key = (id(t), t.device)
        seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        return t.detach()  # same storage; returning `t` itself would tie saved outputs to their graph in a cycle (a leak)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


class Variant:
    """One configuration: `naive` (reference loop) or fast; `layout` 'nchw', 'nhwc' (model and input converted, no
    conversion inside the model) or 'default' (NCHW input, the model's default `memory_format='auto'`)."""
    def __init__(self, naive, layout, amp_dtype, args, device):
        self.naive, self.layout, self.amp_dtype, self.device = naive, layout, amp_dtype, device
        prec = 'bf16 autocast' if amp_dtype is not None else 'fp32'
        self.name = f"{'naive' if naive else 'fast'} {prec} {layout}"
        torch.manual_seed(0)
        mf = 'auto' if layout == 'default' else 'keep'
        self.model = SearchNetwork(C=args.C, n_classes=10, layers=args.layers, naive=naive, memory_format=mf).to(device)
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(args.batch, 3, args.size, args.size, generator=g).to(device)
        self.y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
        if layout == 'nhwc':
            self.model = self.model.to(memory_format=torch.channels_last)
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.times, self.peak = [], None

    def autocast(self):
        if self.amp_dtype is None: return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def loss(self):
        with self.autocast(): return F.cross_entropy(self.model(self.x), self.y)

    def step(self):
        for p in self.model.parameters(): p.grad = None
        self.loss().backward()

    def timed_step(self):
        sync(self.device)
        t = time.perf_counter(); self.step(); sync(self.device)
        self.times.append(time.perf_counter() - t)
        if self.device.type == 'cpu': release_host_memory()

    def measure_memory(self):
        self.saved = saved_bytes(self.loss)
        if self.device.type == 'cuda':
            for p in self.model.parameters(): p.grad = None
            torch.cuda.empty_cache(); sync(self.device)
            base = torch.cuda.memory_allocated(self.device)   # everything held before the step (all variants' models)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.step(); sync(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - base


def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def release_host_memory():
    "Hand freed host memory back to the OS (glibc), so that interleaved variants do not pile up several GB each."
    gc.collect()
    try: ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError): pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:N' or 'auto'")
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=10, help='timed steps per variant')
    ap.add_argument('--warmup', type=int, default=2, help='untimed steps per variant first')
    ap.add_argument('--C', type=int, default=16, help='initial channels')
    ap.add_argument('--layers', type=int, default=8, help='cells')
    ap.add_argument('--size', type=int, default=32, help='image height and width')
    ap.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch default)')
    ap.add_argument('--no-channels-last', action='store_true', help='skip the channels-last variants')
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    args = ap.parse_args(argv)
    device = get_device(args.device)
    if args.threads: torch.set_num_threads(args.threads)
    torch.backends.cudnn.benchmark = device.type == 'cuda'

    layouts = ['nchw'] + ([] if args.no_channels_last else ['nhwc'])
    combos = [(None, l) for l in layouts]
    if device.type == 'cuda': combos += [(torch.bfloat16, l) for l in layouts]
    variants = [Variant(naive, layout, amp, args, device) for amp, layout in combos for naive in (True, False)]
    if device.type == 'cpu' and not args.no_channels_last: variants.append(Variant(False, 'default', None, args, device))

    print(f'supernet C={args.C} layers={args.layers} batch={args.batch} {args.size}x{args.size} on {device} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} CPU threads), {args.warmup} warm-up + {args.steps} timed steps',
          flush=True)
    for v in variants:
        for _ in range(args.warmup): v.step()
        if device.type == 'cpu': release_host_memory()
    sync(device)
    for _ in range(args.steps):
        for v in variants: v.timed_step()
    for v in variants:
        v.measure_memory()
        if device.type == 'cpu': release_host_memory()

    rows = []
    for v in variants:
        med, best = statistics.median(v.times), min(v.times)
        rows.append(dict(variant=v.name, naive=v.naive, layout=v.layout,
                         amp=str(v.amp_dtype).replace('torch.', '') if v.amp_dtype else None,
                         median_s=med, min_s=best, images_per_s=args.batch / med,
                         saved_activations_MB=v.saved / 2**20,
                         peak_cuda_MB=v.peak / 2**20 if v.peak is not None else None))
        peak = f'  step peak {v.peak / 2**20:8.1f} MB' if v.peak is not None else ''
        print(f'{v.name:30s} {args.batch / med:9.1f} img/s  (median {med * 1e3:8.1f} ms, min {best * 1e3:8.1f} ms)'
              f'  saved activations {v.saved / 2**20:7.1f} MB{peak}')
    by = {r['variant']: r for r in rows}
    print('speed-up of the fast path over the naive loop at the same precision and layout (median step time):')
    ratios = {}
    for amp, layout in combos:
        prec = 'bf16 autocast' if amp is not None else 'fp32'
        n, f = by[f'naive {prec} {layout}'], by[f'fast {prec} {layout}']
        ratios[f'{prec} {layout}'] = r = n['median_s'] / f['median_s']
        print(f'  {prec:14s} {layout:5s} {r:5.2f}x   (saved activations {f["saved_activations_MB"] / n["saved_activations_MB"]:.2f}x of naive)')
    base = by['naive fp32 nchw']
    for name in ('fast fp32 default', 'fast fp32 nhwc', 'fast bf16 autocast nhwc'):
        if name in by:
            ratios[f'{name} vs naive fp32 nchw'] = r = base['median_s'] / by[name]['median_s']
            print(f'{name} vs the reference (naive fp32 NCHW): {r:.2f}x')
    if args.json:
        save_json(dict(args=vars(args), env=env_info(device), rows=rows, speedup=ratios), args.json)
    return rows


if __name__ == '__main__':
    main()
