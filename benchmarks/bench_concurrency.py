#!/usr/bin/env python
"""Throughput of several searches sharing one device: K processes at once, each running the package's search step
(`SearchStep`, the same cross-entropy step as `bench_search_step.py`, with the levers given here; on CUDA captured in a
CUDA graph by default) over the same time window, against one process alone (K=1, the baseline, in the same run).
Prints the images/s of all K together, the ratio to one process, and each process's own slowdown.

Why it matters: `lt_darts_sweep --jobs N` runs N cells at a time, several on one GPU when memory allows. Without
NVIDIA MPS the kernels of different processes do not run at the same time (the GPU gives each process its turn), so
processes whose steps are bound by their kernels, as a captured search step is on an H200, may gain little from
sharing; with MPS (`nvidia-cuda-mps-control -d`) their kernels may overlap. The output says whether an MPS control
daemon was found (`lt_darts_nb.sweep.mps_active`); run it with and without MPS to see what MPS gives.

Each process builds its step, runs --warmup untimed steps (graph mode captures after 3), reports ready, and waits until
every process is ready; then all run steps for --seconds, and each reports its steps and its exact time. On the CPU
each process gets cores / K threads (`OMP_NUM_THREADS`), as the sweep gives its processes. Usage:

    python benchmarks/bench_concurrency.py --device cuda --jobs 1,2,4,8 --seconds 20 --json results/bench/concurrency_h200.json
    nvidia-cuda-mps-control -d          # then again with MPS (as root, or the user who runs the processes)
    python benchmarks/bench_concurrency.py --device cuda --jobs 1,2,4,8 --seconds 20 --json results/bench/concurrency_h200_mps.json
    echo quit | nvidia-cuda-mps-control  # stop MPS
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import torch
from lt_darts_nb.core import get_device, env_info, save_json
from lt_darts_nb.sweep import mps_active, parse_list

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_search_step import Package, random_batches   # noqa: E402
from bench_supernet import sync                         # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'cuda:N' or 'auto' (every process uses this one device)")
    ap.add_argument('--jobs', default='1,2,4', help='numbers of processes at once, comma-separated (1 is always run first: the baseline)')
    ap.add_argument('--seconds', type=float, default=20.0, help='timed window of every process')
    ap.add_argument('--warmup', type=int, default=5, help='untimed steps per process first (graph mode captures after 3)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--C', type=int, default=16, help='initial channels')
    ap.add_argument('--layers', type=int, default=8, help='cells')
    ap.add_argument('--size', type=int, default=32, help='image height and width')
    ap.add_argument('--mode', default='auto', help="step mode: 'auto' (graph on CUDA, eager elsewhere), 'eager', 'graph' or 'compile'")
    ap.add_argument('--amp', default='', help="'' (float32) or 'bf16'")
    ap.add_argument('--channels_last', action='store_true', help='channels-last model and input')
    ap.add_argument('--batch_edges', action='store_true', help='batched edges in the supernet')
    ap.add_argument('--timeout', type=float, default=600.0, help='seconds to wait for the processes of one K to get ready')
    ap.add_argument('--json', default=None, help='also write the results to this JSON file')
    ap.add_argument('--worker', default=None, help=argparse.SUPPRESS)    # internal: the folder a worker reports to
    ap.add_argument('--rank', type=int, default=0, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def worker(args):
    "One process: build the step, warm up, say ready, wait for go, run for `args.seconds`, write its result."
    device = get_device(args.device)
    torch.backends.cudnn.benchmark = device.type == 'cuda'
    mode = ('graph' if device.type == 'cuda' else 'eager') if args.mode == 'auto' else args.mode
    v = Package('step', args, device, shared=True, channels_last=args.channels_last, fused=True, amp=args.amp, mode=mode,
                batched=args.batch_edges)
    data = random_batches(args, device, parts=2)[args.channels_last]
    for i in range(args.warmup): v(*data[i % len(data)])
    sync(device)
    d = Path(args.worker)
    (d/f'ready_{args.rank}').touch()
    while not (d/'go').exists(): time.sleep(0.005)
    n, t0 = 0, time.perf_counter()
    while True:
        v(*data[n % len(data)]); n += 1
        if n % 5 == 0:                   # look at the clock every few steps, each time after the GPU has caught up
            sync(device)
            if time.perf_counter() - t0 >= args.seconds: break
    sync(device)
    dt = time.perf_counter() - t0
    save_json(dict(rank=args.rank, steps=n, seconds=dt, mode=v.step.mode, warnings=v.warned), d/f'result_{args.rank}.json')


def run_k(k:int, args, argv:list) -> dict:
    "Start `k` workers, release them together once all are ready, and collect their results."
    with tempfile.TemporaryDirectory(prefix='bench_concurrency_') as tmp:
        d = Path(tmp)
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        if get_device(args.device).type == 'cpu': env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // k))
        logs = [open(d/f'log_{i}.txt', 'w') for i in range(k)]      # files, not pipes: a chatty worker cannot block
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv, '--worker', str(d), '--rank', str(i)],
                                  env=env, stdout=logs[i], stderr=subprocess.STDOUT) for i in range(k)]
        tail = lambda i: (d/f'log_{i}.txt').read_text()[-3000:]
        try:
            end = time.time() + args.timeout
            while sum((d/f'ready_{i}').exists() for i in range(k)) < k:
                dead = [i for i, p in enumerate(procs) if p.poll() is not None]
                if dead: raise SystemExit(f'bench_concurrency: a worker exited {procs[dead[0]].returncode} before it was ready:\n{tail(dead[0])}')
                if time.time() > end: raise SystemExit(f'bench_concurrency: {k} workers were not ready after {args.timeout:g} s: raise --timeout')
                time.sleep(0.05)
            (d/'go').touch()
            for p in procs: p.wait()
        finally:
            for p in procs:
                if p.poll() is None: p.kill()
            for f in logs: f.close()
        bad = [i for i, p in enumerate(procs) if p.returncode != 0]
        if bad: raise SystemExit(f'bench_concurrency: a worker exited {procs[bad[0]].returncode}:\n{tail(bad[0])}')
        res = [json.loads((d/f'result_{i}.json').read_text()) for i in range(k)]
    per = [r['steps'] * args.batch / r['seconds'] for r in res]
    return dict(jobs=k, images_per_s=sum(per), per_process_images_per_s=per, steps=[r['steps'] for r in res],
                seconds=[r['seconds'] for r in res], mode=res[0]['mode'], warnings=res[0]['warnings'])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker: return worker(args)
    device = get_device(args.device)
    ks = parse_list(args.jobs, int, 'jobs')
    if any(k < 1 for k in ks): raise SystemExit('bench_concurrency: --jobs must be >= 1')
    ks = [1] + [k for k in ks if k != 1]
    mps = mps_active() if device.type == 'cuda' else None
    print(f'search step C={args.C} layers={args.layers} batch={args.batch} {args.size}x{args.size} on {device} '
          f'(mode {args.mode}, amp {args.amp or "off"}, channels_last {args.channels_last}, batch_edges {args.batch_edges}), '
          f'{args.seconds:g} s per process' + ('' if mps is None else f"; MPS {'running' if mps else 'not running'}"), flush=True)
    rows = []
    for k in ks:
        r = run_k(k, args, argv)
        rows.append(r)
        print(f"  {k} process(es): {r['images_per_s']:.1f} img/s together", flush=True)
    base = rows[0]['images_per_s']
    for r in rows:
        r['ratio'] = r['images_per_s'] / base
        r['slowdown'] = base / min(r['per_process_images_per_s'])     # of the slowest process against one alone
    print(f"\n{'processes':>9} {'img/s together':>15} {'ratio':>7} {'each, slowest':>14} {'slowdown':>9}  (ran {rows[0]['mode']})")
    for r in rows:
        print(f"{r['jobs']:>9} {r['images_per_s']:15.1f} {r['ratio']:6.2f}x {min(r['per_process_images_per_s']):14.1f} {r['slowdown']:8.2f}x")
    best = max(rows, key=lambda r: r['ratio'])
    print(f"\nbest: {best['jobs']} process(es) at once, {best['ratio']:.2f}x the throughput of one"
          + ('' if mps is None else f" ({'with' if mps else 'without'} MPS)"))
    if args.json:
        save_json(dict(args=vars(args), device=str(device), mps=mps, env=env_info(device), rows=rows,
                       command='python ' + ' '.join([os.path.relpath(__file__)] + argv)), args.json)
    return rows


if __name__ == '__main__':
    main()
