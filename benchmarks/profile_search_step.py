"""Where the time of one DARTS search step goes: wall time per step (architecture step + weight step) of the
package's supernet at the real search configuration, and a torch.profiler summary of the device kernels.
Usage: python benchmarks/profile_search_step.py --device cuda [--amp bf16] [--channels_last] [--batch_edges] [--steps 10]

On CUDA it also prints the kernel time per step (the sum of the kernels' own times): a step captured in a CUDA graph
removes the launch overhead, not the kernels, so this is about the fastest the captured step can be."""
import argparse, inspect, time, torch
from lt_darts_nb.search_space import SearchNetwork
from lt_darts_nb.architect import Architect

def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--device', default='cpu'); p.add_argument('--batch', type=int, default=64)
    p.add_argument('--C', type=int, default=16); p.add_argument('--layers', type=int, default=8)
    p.add_argument('--steps', type=int, default=10); p.add_argument('--amp', default='')
    p.add_argument('--channels_last', action='store_true'); p.add_argument('--rows', type=int, default=15)
    p.add_argument('--batch_edges', action='store_true', help='run each candidate once on all edges ready together')
    a = p.parse_args()
    dev = torch.device(a.device)
    m = SearchNetwork(a.C, 10, a.layers).to(dev)
    m.batch_edges = a.batch_edges
    if a.channels_last: m = m.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.weights(), 0.025, momentum=0.9, weight_decay=3e-4)
    arch = Architect(m, lr=3e-4, weight_decay=1e-3)
    mk = lambda: (torch.randn(a.batch, 3, 32, 32, device=dev), torch.randint(0, 10, (a.batch,), device=dev))
    tb, vb = mk(), mk()
    if a.channels_last: tb = (tb[0].contiguous(memory_format=torch.channels_last), tb[1]); vb = (vb[0].contiguous(memory_format=torch.channels_last), vb[1])
    ctx = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if a.amp == 'bf16' else (lambda: torch.autocast(dev.type, enabled=False))
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    def step():
        with ctx(): arch.step(tb, vb, 0.025, opt)
        opt.zero_grad(set_to_none=True)
        with ctx(): loss = m.loss(*tb)
        loss.backward(); torch.nn.utils.clip_grad_norm_(m.weights(), 5.); opt.step()
    for _ in range(3): step()
    sync(); t = time.perf_counter()
    for _ in range(a.steps): step()
    sync(); dt = (time.perf_counter() - t) / a.steps
    mem = f', peak memory {torch.cuda.max_memory_allocated(dev) / 2**30:.2f} GiB' if dev.type == 'cuda' else ''
    print(f'{a.device} amp={a.amp or "fp32"} channels_last={a.channels_last} batch_edges={a.batch_edges}: {dt * 1000:.1f} ms/step, {a.batch / dt:.0f} images/s{mem}')
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
    keep = {'acc_events': True} if 'acc_events' in inspect.signature(torch.profiler.profile).parameters else {}   # one cycle: the same events, without torch 2.11's warning
    with torch.profiler.profile(activities=acts, **keep) as prof:
        for _ in range(3): step()
        sync()
    key = 'self_cuda_time_total' if dev.type == 'cuda' else 'self_cpu_time_total'
    ka = prof.key_averages()
    if dev.type == 'cuda':
        # the kernels themselves: device events (as the table's 'Self CUDA time total'), not the operators that launched them
        kern = sum(e.self_device_time_total for e in ka if e.device_type == torch.autograd.DeviceType.CUDA
                   and not getattr(e, 'is_user_annotation', False)) / 3 / 1000
        print(f'kernel time per step: {kern:.1f} ms ({kern / (dt * 1000):.0%} of the eager step)')
    print(ka.table(sort_by=key, row_limit=a.rows, max_name_column_width=60))

if __name__ == '__main__': main()
