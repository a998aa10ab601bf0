"""Batches per second of `DeviceLoader` versus a standard per-image `torch.utils.data.DataLoader`.

The baseline is the input pipeline of the DARTS and BBN scripts: a `Dataset` whose `__getitem__` transforms
one image at a time with RandomCrop(32, padding=4) -> RandomHorizontalFlip -> ToTensor -> Normalize
(-> DARTS Cutout when --cutout > 0), batched by a `DataLoader` (shuffle=True) and copied to the device.
When torchvision imports, its transforms are used (on PIL images, as in the reference code); otherwise the
same per-image steps are done with NumPy/torch ops in `__getitem__`, which mirrors torchvision's per-image
path (zero padding, a random crop offset per image, a coin flip per image, /255, per-channel normalisation).

Both loaders get the same uint8 images, batch size and device. Example:

    python benchmarks/bench_loader.py --device cpu
    python benchmarks/bench_loader.py --device cuda --workers 4 --batch-size 96 --cutout 16
"""
import argparse, random, time
import numpy as np
import torch
from lt_darts_nb.core import get_device, env_info, LTDartsError
from lt_darts_nb.data import make_lt, DeviceLoader, CIFAR10_MEAN, CIFAR10_STD


class PerImageCIFAR(torch.utils.data.Dataset):
    "One image at a time, like torchvision.datasets.CIFAR10 with the DARTS/BBN train transform."
    def __init__(self, x, y, mean, std, cutout=0, padding=4, use_torchvision=True):
        self.x, self.y, self.cutout, self.padding = x, y, cutout, padding
        self.mean = np.asarray(mean, np.float32)[:, None, None]; self.std = np.asarray(std, np.float32)[:, None, None]
        self.tv = None
        if use_torchvision:
            try:
                import torchvision.transforms as T
                from PIL import Image
                self.Image = Image
                self.tv = T.Compose([T.RandomCrop(32, padding=padding), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)])
            except Exception:
                self.tv = None

    def __len__(self): return len(self.y)

    def _cutout(self, t):   # DARTS utils.Cutout on a normalised CHW tensor
        h, w = t.shape[1:]; L = self.cutout
        cy, cx = np.random.randint(h), np.random.randint(w)
        y1, y2 = np.clip(cy - L // 2, 0, h), np.clip(cy + L // 2, 0, h)
        x1, x2 = np.clip(cx - L // 2, 0, w), np.clip(cx + L // 2, 0, w)
        t[:, y1:y2, x1:x2] = 0.
        return t

    def __getitem__(self, i):
        img = self.x[i]
        if self.tv is not None: t = self.tv(self.Image.fromarray(img))
        else:
            P = self.padding; H, W, _ = img.shape
            pad = np.pad(img, ((P, P), (P, P), (0, 0)))                       # RandomCrop(32, padding=4): zero padding
            oy, ox = random.randint(0, 2 * P), random.randint(0, 2 * P)
            crop = pad[oy:oy + H, ox:ox + W]
            if random.random() < 0.5: crop = crop[:, ::-1]                    # RandomHorizontalFlip
            t = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))).float().div_(255)   # ToTensor
            t = (t - torch.from_numpy(self.mean)) / torch.from_numpy(self.std)                         # Normalize
        if self.cutout: t = self._cutout(t)
        return t, int(self.y[i])


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def time_device_loader(x, y, a, dev):
    dl = DeviceLoader(x, y, a.batch_size, sampler=a.sampler, cutout=a.cutout, device=dev, seed=0,
                      drop_last=True, channels_last=a.channels_last)
    for _ in range(a.warmup): dl.next_batch()
    sync(dev); t = time.perf_counter()
    for _ in range(a.batches): xb, yb = dl.next_batch()
    sync(dev); return a.batches / (time.perf_counter() - t)


def time_per_image_loader(x, y, a, dev):
    ds = PerImageCIFAR(x, y, CIFAR10_MEAN, CIFAR10_STD, a.cutout, use_torchvision=not a.no_torchvision)
    dl = torch.utils.data.DataLoader(ds, a.batch_size, shuffle=True, num_workers=a.workers, drop_last=True,
                                     pin_memory=dev.type == 'cuda', persistent_workers=a.workers > 0)
    it, done = iter(dl), 0
    def nxt():
        nonlocal it
        try: return next(it)
        except StopIteration: it = iter(dl); return next(it)
    for _ in range(a.warmup): nxt()
    sync(dev); t = time.perf_counter()
    for _ in range(a.batches):
        xb, yb = nxt(); xb = xb.to(dev, non_blocking=True); yb = yb.to(dev, non_blocking=True)
    sync(dev); rate = a.batches / (time.perf_counter() - t)
    return rate, ('torchvision.transforms' if ds.tv is not None else 'numpy/torch per-image mirror of torchvision')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', default='cpu', help="'cpu', 'cuda', 'auto'")
    p.add_argument('--data', default='synthetic', help="'synthetic' (CIFAR-10-LT shaped, no download) or 'cifar10' (needs LT_DARTS_DATA)")
    p.add_argument('--imb-ratio', type=float, default=100)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--batches', type=int, default=200, help='timed batches per loader')
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--workers', type=int, default=0, help='DataLoader workers of the baseline')
    p.add_argument('--cutout', type=int, default=0)
    p.add_argument('--sampler', default='instance', help='sampler of DeviceLoader (the baseline always shuffles)')
    p.add_argument('--channels-last', action='store_true')
    p.add_argument('--no-torchvision', action='store_true', help='force the NumPy/torch per-image baseline')
    p.add_argument('--threads', type=int, default=0, help='torch.set_num_threads (0: leave the default)')
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    dev = get_device(a.device)
    try: ds = make_lt(a.data, a.imb_ratio, n_max=5000) if a.data == 'synthetic' else make_lt(a.data, a.imb_ratio)
    except LTDartsError as e: raise SystemExit(f'error: {e}')
    x, y = ds.x_train, ds.y_train
    info = env_info(dev)
    print(f"data: {ds.name}-LT ratio {a.imb_ratio:g}, {len(y)} images {tuple(x.shape[1:])}, source {ds.source!r}")
    print(f"device: {dev}{' (' + info['gpu'] + ')' if 'gpu' in info else ''}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, batch {a.batch_size}, cutout {a.cutout}, timed batches {a.batches}")
    r_dev = time_device_loader(x, y, a, dev)
    r_img, how = time_per_image_loader(x, y, a, dev)
    print(f"{'loader':<58} {'batches/s':>10} {'images/s':>10}")
    print(f"{'DeviceLoader (' + a.sampler + ', on ' + str(dev) + ')':<58} {r_dev:>10.1f} {r_dev * a.batch_size:>10.0f}")
    print(f"{'DataLoader, ' + str(a.workers) + ' workers, ' + how:<58} {r_img:>10.1f} {r_img * a.batch_size:>10.0f}")
    print(f"speed-up DeviceLoader / DataLoader: {r_dev / r_img:.1f}x")
    return dict(device_loader=r_dev, per_image=r_img, ratio=r_dev / r_img)


if __name__ == '__main__':
    main()
