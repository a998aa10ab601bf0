#!/usr/bin/env python
"""One training step of a derived network (the evaluation recipe: DARTS_V2, C=36, 20 cells, auxiliary head, drop-path,
batch 96, 32x32 images, 10 classes) of the package's `TrainStep` against a straightforward implementation of the
same step, in the same process. Prints images/s, the ratio to the straightforward step, and memory, for a ladder of
levers switched on one after another, so each row shows what one lever adds:

    straightforward      the training step as one writes it (DARTS' `train.py`): NCHW, fp32, torch's default SGD
    all levers off       the package's `TrainStep` with every lever off (expected: the same speed)
    + channels-last      NHWC model and input
    + fused optimiser    torch's fused SGD kernel
    + bf16 autocast      (CUDA by default; --amp on the CPU)
    + CUDA graph         the step captured once (per epoch in a real run) and replayed (CUDA)
    + torch.compile      (only with --compile: compiling takes minutes)

Timing and reporting are `bench_search_step.run_ladder`'s (interleaved variants, median step time). Usage:

    OMP_NUM_THREADS=1 python benchmarks/bench_train_step.py --device cpu --steps 3 --warmup 1 --json results/bench/train_step_cpu.json
    python benchmarks/bench_train_step.py --device cuda --steps 30 --json results/bench/train_step_h200.json
"""
from __future__ import annotations
import os, sys, warnings
import torch
import torch.nn as nn
import torch.nn.functional as F
from lt_darts_nb.networks import NetworkCIFAR
from lt_darts_nb.step import TrainStep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_search_step import lever_ladder, parse_args, random_batches, run_ladder   # noqa: E402


def _net(args, device, channels_last=False):
    torch.manual_seed(0)
    m = NetworkCIFAR(args.C, 10, args.layers, auxiliary=True, genotype=args.genotype, drop_path_prob=args.drop_path).to(device)
    if channels_last: m = m.to(memory_format=torch.channels_last)
    m.generator = torch.Generator(device=device).manual_seed(0)
    return m.train()

def _loss(model, batch, key=0):
    "DARTS' training loss: cross-entropy plus 0.4 x the auxiliary head's."
    z, aux = model(batch[0])
    loss = F.cross_entropy(z.float(), batch[1]) + 0.4 * F.cross_entropy(aux.float(), batch[1])
    return loss, (z.argmax(1) == batch[1]).sum(), batch[1].shape[0]


class Straightforward:
    "The evaluation network's training step as DARTS' `train.py` writes it."
    name = 'straightforward'
    def __init__(self, args, device):
        self.model, self.channels_last = _net(args, device), False
        self.opt = torch.optim.SGD(self.model.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
    def __call__(self, b):
        self.opt.zero_grad()
        loss = _loss(self.model, b)[0]
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.opt.step()
        return loss
    def loss(self, b): return _loss(self.model, b)[0]


class Package:
    "The package's `TrainStep` with a set of levers."
    def __init__(self, name, args, device, channels_last=False, fused=False, amp='', mode='eager'):
        self.name, self.channels_last = name, channels_last
        self.model = _net(args, device, channels_last)
        opt = torch.optim.SGD(self.model.parameters(), 0.025, momentum=0.9, weight_decay=3e-4)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            self.step = TrainStep(self.model, opt, _loss, grad_clip=5.0, amp=amp, mode=mode, fused=fused)
        self.warned = [str(x.message) for x in w]
    def __call__(self, b): return self.step(b, 0.025, key=0)[0]
    def loss(self, b):
        with self.step._autocast(): return _loss(self.model, b)[0]


def main(argv=None):
    args, device = parse_args(__doc__, argv, batch=96, C=36, layers=20, extra=[
        (('--genotype',), dict(default='DARTS_V2', help='genotype name or JSON path')),
        (('--drop_path',), dict(type=float, default=0.1, help='drop-path probability (the ramp reaches 0.2 at the end)'))])
    cuda = device.type == 'cuda'

    ladder = lever_ladder(dict(channels_last=False, fused=False, amp='', mode='eager'),
                          [('+ channels-last', dict(channels_last=True)), ('+ fused optimiser', dict(fused=True))], args, cuda)
    variants = [Straightforward(args, device)] + [Package(n, args, device, **kw) for n, kw in ladder]
    levers = {'straightforward': None, **{n: kw for n, kw in ladder}}

    data = random_batches(args, device)

    print(f'training step {args.genotype} C={args.C} layers={args.layers} batch={args.batch} {args.size}x{args.size} on {device} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} CPU threads), {args.warmup} warm-up + {args.steps} timed steps',
          flush=True)
    return run_ladder(variants, levers, data, args, device, argv, __file__)


if __name__ == '__main__':
    main()
