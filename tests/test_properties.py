"""Property-based tests (hypothesis) of the package's cheap functions: each property is a documented contract, or a
formula checked against an independent reference (LDAM-DRW's long-tail code, DARTS' genotype parser, torch's cosine
scheduler, `colorsys`, `statistics`, a per-image augmentation, a brute-force search), over drawn inputs rather than the
chapters' hand-picked ones:
- long-tailed data: class sizes, subsets, the search split, class groups, image folders, dataset files;
- sampling: sampler probabilities, re-weighting, batch augmentation, `DeviceLoader` epochs and resume;
- schedules and BBN: adaptors, schedule algebra and round trips, the bilateral mix, loss and accuracy;
- the search space: genotype derivation, cells (fast path, naive and batched edges), supernet parameters, monitors;
- configs: round trips, type checks, and that a network a config cannot build is refused before a run folder is written
  (a sweep: when it is planned);
- results and sweeps: statistics and tables, cell folders, planning, variants, device slots and the device pool;
- files: atomic writes, checkpoints, folder locks.

Nothing here trains: models are a few channels wide and only built (or run once on a tiny batch). Private helpers are
used only where nothing public reaches them (the config checks without a run, two array helpers of the data chapter).
The examples are derandomized (profile 'ci': the same examples on every run, no example database), and a failure
prints the `@reproduce_failure` blob that replays it. `LT_DARTS_HYPOTHESIS=dev pytest tests/test_properties.py` draws
four times as many examples at random, and keeps the failing ones in .hypothesis/ to replay them first.
"""
import colorsys, contextlib, copy, csv, io, itertools, json, math, os, re, statistics, tempfile, threading, time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

from lt_darts_nb.core import (LTDartsError, atomic_write, check_known, command_parser, folder_lock, load_checkpoint,
                              remove_stale_tmp, save_checkpoint, save_json)
from lt_darts_nb.data import (GROUPS, GROUP_MODES, PROFILES, LTDataset, class_groups, default_group_mode, group_mean,
                              image_folder_lt, lt_counts, lt_indices, search_split, synthetic_lt, _channel_stats, _hsv_to_rgb)
from lt_darts_nb.sampling import (SAMPLERS, DeviceLoader, LTSampler, augment_batch, class_index, class_probs, class_weights,
                                  drw_weights, sample_indices)
from lt_darts_nb.schedules import (ADAPTORS, HeteroSchedule, adaptor_scaled, constant, cosine, get_adaptor, linear,
                                   parse_schedule, product, scaled, schedule_from_dict, schedule_from_knobs, step_freeze, warmup)
from lt_darts_nb.bbn import BilateralSearchNetwork, bbn_accuracy, bbn_loss, bbn_mix
from lt_darts_nb.genotypes import (DARTS_V2, PARAM_FREE, PRIMITIVES, Genotype, count_ops, genotype_from_dict, genotype_to_dict,
                                   load_genotype, n_param_free, n_skip, save_genotype)
from lt_darts_nb.ops import OPS, drop_path, make_op
from lt_darts_nb.search_space import SearchCell, cell_n_edges, cell_steps, derive_genotype
from lt_darts_nb.monitors import CollapseGuard, collapse_metrics, edge_entropy, genotype_from_weights, hessian_max_eigenvalue
from lt_darts_nb.search import (METHODS, SearchConfig, arch_schedule, evaluate, get_method, is_eval_epoch, method_options,
                                n_evaluations, schedule_options, search, select_epoch, tiny_config)
from lt_darts_nb.search import _check_config as check_search_config      # no public way to check a config without running it
from lt_darts_nb.train import SHARED_FIELDS, TrainConfig, get_train_mode, train_genotype
from lt_darts_nb.train import _check_config as check_train_config
from lt_darts_nb.experiments import group_stats, results_table, run_map
from lt_darts_nb.sweep import (DevicePool, SweepCell, SweepConfig, cell_name, cell_row, collect_sweep, config_diff, default_metrics,
                               device_slots, error_line, exit_error, field_defaults, make_sweep, parse_list, parse_options,
                               parse_variants, plan_sweep, resolve_jobs, save_sweep_tables, shared_searches, spread,
                               stage_state, sweep_stats, to_flags)

settings.register_profile('ci', derandomize=True, database=None, print_blob=True, deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', derandomize=False, print_blob=True, deadline=None, max_examples=400,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('LT_DARTS_HYPOTHESIS', 'ci'))
_N = settings.default.max_examples
MANY = settings(max_examples=_N)                   # pure functions of small inputs
SOME = settings(max_examples=max(1, _N // 3))      # loaders, files, tiny modules
FEW = settings(max_examples=max(1, _N // 8))       # building networks, planning sweeps

# the package warns about drawn inputs on purpose (a class of one image, a floor above the head...): not failures here
pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')


@pytest.fixture(scope='module')
def scratch(tmp_path_factory):
    "`with scratch() as d:` a new empty folder for one example (a test's body runs once per example), removed after it."
    base = tmp_path_factory.mktemp('properties')
    @contextlib.contextmanager
    def new():
        with tempfile.TemporaryDirectory(dir=base) as d: yield Path(d)
    return new


def _umask() -> int:
    m = os.umask(0o022); os.umask(m); return m


def _roundtrip_torch(obj):
    "`obj` through torch.save and torch.load(weights_only=True), as a checkpoint stores it."
    buf = io.BytesIO(); torch.save(obj, buf); buf.seek(0)
    return torch.load(buf, weights_only=True)


# ---------------------------------------------------------------------------------------------------- long-tailed data
ratios = st.floats(1, 1000)


@MANY
@given(n_max=st.integers(1, 6000), C=st.integers(1, 120), r=ratios, profile=st.sampled_from(PROFILES))
@example(n_max=500, C=10, r=1.0, profile='exp')
@example(n_max=500, C=10, r=1.0, profile='step')
def test_lt_counts_is_ldam_drw_get_img_num_per_cls(n_max, C, r, profile):
    "LDAM-DRW/BBN's formula: n_max * (1/r)^(i/(C-1)) (exp) or half head, half n_max/r (step), each at least min_count=1."
    f = 1 / r
    raw = ([int(n_max * f ** (i / (C - 1.0))) for i in range(C)] if C > 1 else [n_max]) if profile == 'exp' else \
          [n_max] * (C // 2) + [int(n_max * f)] * (C - C // 2)
    c = lt_counts(n_max, C, r, profile)
    assert c == [max(1, v) for v in raw]
    assert all(a >= b for a, b in zip(c, c[1:]))
    if r == 1: assert c == [n_max] * C


@MANY
@given(n_max=st.integers(1, 3000), C=st.integers(2, 30), r1=ratios, r2=ratios, profile=st.sampled_from(PROFILES))
def test_lt_counts_shrink_as_the_ratio_grows(n_max, C, r1, r2, profile):
    lo, hi = sorted((r1, r2))
    assert all(a >= b for a, b in zip(lt_counts(n_max, C, lo, profile), lt_counts(n_max, C, hi, profile)))


@MANY
@given(bad=st.one_of(st.floats(max_value=0.999999), st.just(math.nan), st.just(math.inf), st.booleans(), st.text(max_size=3)))
def test_lt_counts_refuses_a_ratio_below_one_or_not_a_number(bad):
    with pytest.raises(LTDartsError): lt_counts(100, 10, bad)


@st.composite
def balanced_labels(draw):
    "Labels of a balanced set (C classes of `per` images) in a drawn order, with C and `per`."
    C, per = draw(st.integers(1, 6)), draw(st.integers(1, 25))
    y = np.repeat(np.arange(C), per)
    return y[np.array(draw(st.permutations(range(len(y)))))], C, per


@MANY
@given(lab=balanced_labels(), r=st.floats(1, 20), seed=st.integers(0, 2**32 - 1), profile=st.sampled_from(PROFILES))
def test_lt_indices_is_ldam_drw_gen_imbalanced_data(lab, r, seed, profile):
    "LDAM-DRW's gen_imbalanced_data, run literally with the global NumPy RNG (restored afterwards)."
    y, C, per = lab
    counts = lt_counts(per, C, r, profile)
    got = lt_indices(y, r, profile=profile, seed=seed)
    state = np.random.get_state()
    try:
        np.random.seed(seed); out = []
        for c, n in zip(np.unique(y), counts):
            idx = np.where(y == c)[0]; np.random.shuffle(idx); out.append(idx[:n])
    finally: np.random.set_state(state)
    assert np.array_equal(got, np.concatenate(out))
    assert np.bincount(y[got], minlength=C).tolist() == counts


@MANY
@given(lab=balanced_labels(), r1=st.floats(1, 50), r2=st.floats(1, 50), seed=st.integers(0, 1000))
def test_lt_subsets_are_nested_across_ratios(lab, r1, r2, seed):
    "For one seed, the subset of a larger ratio is inside that of a smaller one (each class is shuffled the same way)."
    y, _, _ = lab
    lo, hi = sorted((r1, r2))
    assert set(lt_indices(y, hi, seed=seed).tolist()) <= set(lt_indices(y, lo, seed=seed).tolist())


@MANY
@given(y=st.lists(st.integers(0, 5), min_size=1, max_size=60), f=st.floats(0.01, 0.99), seed=st.integers(0, 2**32 - 1))
def test_search_split_is_stratified(y, f, seed):
    "Sorted halves covering every image; round(f*n) of each class (at least 1, at most n-1) trains; a class of one is in both."
    y = np.array(y)
    tr, va = search_split(y, f, seed)
    assert (np.sort(tr) == tr).all() and (np.sort(va) == va).all()
    assert set(tr.tolist()) | set(va.tolist()) == set(range(len(y)))
    for c in np.unique(y):
        n, a, b = int((y == c).sum()), int((y[tr] == c).sum()), int((y[va] == c).sum())
        if n == 1: assert a == b == 1
        else: assert a == min(max(int(np.floor(f * n + 0.5)), 1), n - 1) and a + b == n
    assert all((y == y[i]).sum() == 1 for i in set(tr.tolist()) & set(va.tolist()))
    t2, v2 = search_split(y, f, seed)
    assert np.array_equal(tr, t2) and np.array_equal(va, v2)


counts_st = st.lists(st.integers(0, 300), min_size=1, max_size=40)


@MANY
@given(counts=counts_st, mode=st.sampled_from(GROUP_MODES), many=st.integers(0, 200), few=st.integers(0, 200))
@example(counts=[1], mode='threshold', many=0, few=2)
def test_class_groups_partition_the_classes(counts, mode, many, few):
    "many > `many` images, few < `few` (thresholds that would make a class both are refused), or thirds by size."
    auto = class_groups(counts)                                 # no thresholds given: 'auto' is `default_group_mode`'s choice
    plain = class_groups(counts, mode=default_group_mode(len(counts)))
    assert all(auto[k].tolist() == plain[k].tolist() for k in GROUPS)
    m = 'threshold' if mode == 'auto' else mode                 # thresholds given: 'auto' uses them
    if m == 'threshold' and few > many + 1:
        with pytest.raises(LTDartsError): class_groups(counts, many, few, mode)
        return
    g = class_groups(counts, many, few, mode)
    assert sorted(np.concatenate([g[k] for k in GROUPS]).tolist()) == list(range(len(counts)))
    assert all((np.sort(g[k]) == g[k]).all() for k in GROUPS)
    n = np.array(counts)
    if m == 'threshold':
        assert g['many'].tolist() == np.flatnonzero(n > many).tolist() and g['few'].tolist() == np.flatnonzero(n < few).tolist()
    else:
        k = len(n) // 3
        assert len(g['many']) == len(g['few']) == k
        if k: assert n[g['many']].min() >= n[g['medium']].max(initial=-1) and n[g['medium']].min(initial=10**9) >= n[g['few']].max()


@MANY
@given(vals=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30), mode=st.sampled_from(('thirds', 'threshold')), data=st.data())
def test_group_mean_is_the_mean_of_each_group(vals, mode, data):
    counts = data.draw(st.lists(st.integers(0, 300), min_size=len(vals), max_size=len(vals)))
    g = class_groups(counts, mode=mode)
    out = group_mean(vals, g)
    for k, idx in g.items():
        if len(idx): assert math.isclose(out[k], statistics.fmean(vals[i] for i in idx), rel_tol=1e-9, abs_tol=1e-6)
        else: assert math.isnan(out[k])
    assert math.isclose(out['all'], statistics.fmean(vals), rel_tol=1e-9, abs_tol=1e-6)


@SOME
@given(sizes=st.lists(st.integers(2, 12), min_size=2, max_size=4), r=st.one_of(st.none(), st.just(1), st.floats(1.01, 6)),
       t=st.one_of(st.none(), st.just(1), st.floats(0.05, 0.9)), order=st.sampled_from(['size', 'name']),
       profile=st.sampled_from(PROFILES), seed=st.integers(0, 100))
def test_image_folder_lt_takes_the_largest_tail_that_fits(scratch, sizes, r, t, order, profile, seed):
    "A balanced test split first; then the natural sizes, or the long tail of the largest head every class can supply."
    from PIL import Image
    with scratch() as d:
        for c, n in enumerate(sizes):
            (d/f'c{c}').mkdir()
            for k in range(n): Image.fromarray(np.full((2, 2, 3), (c * 40 + k) % 256, np.uint8)).save(d/f'c{c}'/f'{k}.png')
        ds = image_folder_lt(d, r, profile, t, size=2, seed=seed, cache=False, order=order, verbose=False)
    tt = (1 if min(sizes) < 5 else max(1, int(0.2 * min(sizes)))) if t is None else t if isinstance(t, int) else max(1, int(t * min(sizes)))
    assert ds.test_counts == [tt] * len(sizes)
    avail = [n - tt for n in sizes]
    assert ds.counts == np.bincount(ds.y_train, minlength=len(sizes)).tolist() and all(0 < c <= a for c, a in zip(ds.counts, avail))
    if r is None or r == 1:
        assert ds.counts == avail; return
    rank = np.argsort(-np.array(avail), kind='stable') if order == 'size' else np.arange(len(sizes))
    ranked_avail = [avail[i] for i in rank]
    fits = lambda n: all(c <= a for c, a in zip(lt_counts(n, len(sizes), r, profile), ranked_avail))
    n_max = max([n for n in range(1, max(avail) + 1) if fits(n)], default=1)           # brute force
    assert [ds.counts[i] for i in rank] == lt_counts(n_max, len(sizes), r, profile)


@FEW
@given(counts=st.lists(st.integers(1, 6), min_size=2, max_size=4), n_test=st.integers(1, 3), size=st.integers(1, 4),
       seed=st.integers(0, 10**6), ratio=st.one_of(st.none(), st.floats(1, 100)), profile=st.sampled_from(PROFILES))
def test_synthetic_dataset_is_deterministic_and_saves_losslessly(scratch, counts, n_test, size, seed, ratio, profile):
    ds = synthetic_lt(counts, n_test, size, seed, imb_ratio=ratio, profile=profile)
    assert ds.counts == counts and np.bincount(ds.y_train).tolist() == counts and ds.test_counts == [n_test] * len(counts)
    assert ds.digest() == synthetic_lt(counts, n_test, size, seed, imb_ratio=ratio, profile=profile).digest()
    with scratch() as d:
        ds.save(d/'d.npz'); back = LTDataset.load(d/'d.npz')
    assert back.digest() == ds.digest()
    for k in ('name', 'counts', 'class_names', 'imb_ratio', 'profile', 'mean', 'std', 'source', 'seed'):
        assert getattr(back, k) == getattr(ds, k), k
    assert back.realised_ratio == max(counts) / min(counts)


@MANY
@given(h=st.floats(0, 1), s=st.floats(0, 1), v=st.floats(0, 1))
def test_hsv_to_rgb_is_colorsys(h, s, v):
    "The synthetic images' colour conversion (private: no public way to reach it alone)."
    np.testing.assert_allclose(_hsv_to_rgb(np.array([h]), np.array([s]), np.array([v]))[0], colorsys.hsv_to_rgb(h, s, v), atol=1e-9)


@MANY
@given(data=st.data(), n=st.integers(1, 20), chunk=st.integers(1, 7))
def test_channel_stats_in_chunks_are_numpy_mean_and_std(data, n, chunk):
    "The datasets' normalisation statistics, accumulated chunk by chunk (private: no public way to set the chunk)."
    x = np.array(data.draw(st.lists(st.integers(0, 255), min_size=n * 12, max_size=n * 12)), np.uint8).reshape(n, 2, 2, 3)
    m, s = _channel_stats(x, chunk)
    v = x.reshape(-1, 3) / 255
    np.testing.assert_allclose(m, v.mean(0), atol=1e-12)
    np.testing.assert_allclose(s, v.std(0) + 1e-8, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- sampling
pos_counts = st.lists(st.integers(0, 200), min_size=1, max_size=12).filter(lambda c: sum(c) > 0)


@MANY
@given(counts=pos_counts, kind=st.sampled_from(SAMPLERS), e=st.integers(0, 300), T=st.integers(1, 300))
def test_class_probs_are_the_samplers_distributions(counts, kind, e, T):
    "instance n_i/N, class uniform, sqrt, reversed n_max/n_i (a smaller class never less), progressive (Kang et al.)."
    p = class_probs(counts, kind, e, T)
    n = np.array(counts, float); present = n > 0
    assert p.dtype == np.float64 and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    assert (p[~present] == 0).all() and (p[present] > 0).all()
    if kind == 'instance': ref = n / n.sum()
    elif kind == 'class': ref = present / present.sum()
    elif kind == 'sqrt': ref = np.sqrt(n) / np.sqrt(n).sum()
    elif kind == 'reversed':
        w = np.where(present, n.max() / np.where(present, n, 1), 0); ref = w / w.sum()
        pp = p[present][np.argsort(n[present], kind='stable')]
        assert all(a >= b * (1 - 1e-12) for a, b in zip(pp, pp[1:]))
    else:
        t = min(e / T, 1); ref = (1 - t) * n / n.sum() + t * present / present.sum()
    np.testing.assert_allclose(p, ref, rtol=1e-12, atol=1e-15)


@st.composite
def labels_st(draw):
    "Labels of up to 5 classes (some may be empty, the last is not) in a drawn order."
    C = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(0, 8), min_size=C, max_size=C).filter(lambda s: sum(s) > 0 and s[-1] > 0))
    y = np.repeat(np.arange(C), sizes)
    return y[np.array(draw(st.permutations(range(len(y)))))]


@MANY
@given(y=labels_st(), kind=st.sampled_from(SAMPLERS), n=st.one_of(st.none(), st.integers(0, 40)), seed=st.integers(0, 2**31))
@example(y=np.array([0, 1, 1]), kind='class', n=0, seed=0)
def test_sample_indices_draw_n_images_of_weighted_classes(y, kind, n, seed):
    "n draws (None: one epoch; 0: none), never of a class the sampler gives no weight; instance with n=None is a permutation."
    idx = sample_indices(y, kind, n, 3, 10, torch.Generator().manual_seed(seed))
    N = len(y)
    assert len(idx) == (N if n is None else n) and idx.dtype == torch.int64 and ((idx >= 0) & (idx < N)).all()
    if kind == 'instance' and n is None: assert sorted(idx.tolist()) == list(range(N))
    p = class_probs(np.bincount(y), kind, 3, 10)
    assert all(p[y[i]] > 0 for i in idx.tolist())
    assert torch.equal(idx, sample_indices(y, kind, n, 3, 10, torch.Generator().manual_seed(seed)))


@MANY
@given(y=labels_st(), kind=st.sampled_from(SAMPLERS), n=st.integers(-20, -1))
def test_sample_indices_refuses_a_negative_count(y, kind, n):
    with pytest.raises(LTDartsError): sample_indices(y, kind, n)


@MANY
@given(y=labels_st(), kind=st.sampled_from(SAMPLERS), num=st.one_of(st.none(), st.integers(1, 30)), seed=st.integers(0, 1000),
       ep=st.integers(0, 5))
def test_lt_sampler_yields_num_samples_the_same_each_pass(y, kind, num, seed, ep):
    s = LTSampler(y, kind, num, seed, total_epochs=5); s.set_epoch(ep)
    out = list(iter(s))
    assert len(out) == len(s) == (len(y) if num is None else num)
    assert all(0 <= i < len(y) for i in out) and out == list(iter(s))


@MANY
@given(y=labels_st())
def test_class_index_groups_each_class_in_original_order(y):
    order, starts, sizes = class_index(y)
    bc = np.bincount(y)
    assert sizes.tolist() == bc.tolist() and starts.tolist() == (np.cumsum(bc) - bc).tolist()
    for c in range(len(sizes)):
        seg = order[starts[c]:starts[c] + sizes[c]].tolist()
        assert seg == sorted(seg) and all(y[i] == c for i in seg)


@MANY
@given(counts=pos_counts, kind=st.sampled_from(('inverse', 'effective', 'none')), beta=st.floats(0, 0.99999))
@example(counts=[5, 0, 2], kind='effective', beta=0.0)
def test_class_weights_are_inverse_or_effective_number(counts, kind, beta):
    "Weights summing to C: 1/n_i, or Cui et al.'s (1-beta)/(1-beta^n_i) (beta=0: uniform), 0 for an empty class."
    w = class_weights(counts, kind, beta).double().numpy()
    n = np.array(counts, float)
    assert w.shape == (len(n),) and math.isclose(w.sum(), len(n), rel_tol=1e-5)
    assert (w >= 0).all() and (w[n > 0] > 0).all()
    if kind == 'none': ref = np.ones(len(n))
    elif kind == 'inverse': ref = np.where(n > 0, 1 / np.maximum(n, 1), 0)
    else: ref = np.where(n > 0, (1 - beta) / (1 - beta ** np.maximum(n, 1)), 0)
    np.testing.assert_allclose(w, ref / ref.sum() * len(n), rtol=1e-4)
    if kind != 'none':
        pres = np.flatnonzero(n > 0); order = pres[np.argsort(n[pres], kind='stable')]
        assert all(w[a] >= w[b] * (1 - 1e-5) for a, b in zip(order, order[1:]))


@MANY
@given(counts=pos_counts, e=st.integers(0, 300), drw=st.integers(0, 300))
def test_drw_weights_switch_to_effective_number_at_the_drw_epoch(counts, e, drw):
    "LDAM-DRW's deferred re-weighting: beta 0 (uniform) before epoch `drw`, 0.9999 from it on."
    assert torch.equal(drw_weights(counts, e, drw), class_weights(counts, 'effective', 0.0 if e < drw else 0.9999))


@MANY
@given(beta=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0), st.just(math.nan)))
def test_class_weights_refuse_beta_outside_0_1(beta):
    with pytest.raises(LTDartsError): class_weights([5, 1], 'effective', beta)


def _ref_augment(x, idx, oy, ox, flip, cy, cx, P, L, mean, std):
    "Per image, as torchvision would: pad P, crop at (oy, ox), flip, ToTensor, Normalize, then Cutout of side L at (cy, cx)."
    N, H, W, C = x.shape; out = []
    for b, i in enumerate(idx):
        img = np.zeros((H + 2 * P, W + 2 * P, C), np.float64); img[P:P + H, P:P + W] = x[i]
        img = img[oy[b]:oy[b] + H, ox[b]:ox[b] + W] if oy is not None else img[P:P + H, P:P + W]
        if flip is not None and flip[b]: img = img[:, ::-1]
        t = ((img / 255 - np.array(mean)) / np.array(std)).transpose(2, 0, 1).copy()
        if L and cy is not None:
            h = L // 2
            t[:, np.clip(cy[b] - h, 0, H):np.clip(cy[b] + h, 0, H), np.clip(cx[b] - h, 0, W):np.clip(cx[b] + h, 0, W)] = 0
        out.append(t)
    return np.stack(out)


@MANY
@given(data=st.data(), N=st.integers(1, 4), H=st.integers(1, 6), W=st.integers(1, 6), P=st.integers(0, 3), L=st.integers(0, 6),
       crop=st.booleans(), cl=st.booleans())
def test_augment_batch_is_the_per_image_transform(data, N, H, W, P, L, crop, cl):
    x = np.array(data.draw(st.lists(st.integers(0, 255), min_size=N * H * W * 3, max_size=N * H * W * 3)), np.uint8).reshape(N, H, W, 3)
    B = data.draw(st.integers(1, 5))
    ints = lambda lo, hi: np.array(data.draw(st.lists(st.integers(lo, hi), min_size=B, max_size=B)))
    idx = ints(0, N - 1)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    oy, ox, fl = (ints(0, 2 * P), ints(0, 2 * P), ints(0, 1)) if crop else (None, None, None)
    cy, cx = (ints(0, H - 1), ints(0, W - 1)) if L else (None, None)
    T = lambda a: None if a is None else torch.as_tensor(a)
    got = augment_batch(torch.as_tensor(x), T(idx), T(oy), T(ox), T(fl), T(cy), T(cx), padding=P, cutout=L, mean=mean, std=std,
                        channels_last=cl).numpy()
    np.testing.assert_allclose(got, _ref_augment(x, idx, oy, ox, fl, cy, cx, P, L, mean, std), atol=1e-4)


@SOME
@given(y=labels_st(), bs=st.integers(1, 7), drop=st.booleans(), sampler=st.sampled_from(SAMPLERS + ('sequential',)),
       aug=st.booleans(), cut=st.integers(0, 3), seed=st.integers(0, 2**31), k=st.integers(0, 12), m=st.integers(1, 6))
def test_device_loader_restored_from_its_state_gives_the_same_batches(y, bs, drop, sampler, aug, cut, seed, k, m):
    "A state saved after any number of batches (mid-epoch, across epochs) restores the next batches exactly."
    N = len(y)
    assume(not (drop and bs > N))
    x = np.arange(N * 4 * 4 * 3).reshape(N, 4, 4, 3).astype(np.uint8)
    mk = lambda: DeviceLoader(x, y, bs, sampler, aug, cut, seed=seed, drop_last=drop, total_epochs=4, padding=1)
    a = mk()
    assert len(a) == (N // bs if drop else math.ceil(N / bs))
    for _ in range(k): a.next_batch()
    b = mk(); b.load_state_dict(_roundtrip_torch(a.state_dict()))
    for _ in range(m):
        (xa, ya), (xb, yb) = a.next_batch(), b.next_batch()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert a.epoch == b.epoch


@SOME
@given(n=st.integers(4, 12), bs=st.integers(1, 3), sampler=st.sampled_from(['instance', 'class', 'reversed']), seed=st.integers(0, 1000),
       k=st.integers(1, 3), jump=st.integers(1, 2))
@example(n=10, bs=2, sampler='instance', seed=0, k=2, jump=1)
def test_device_loader_restored_mid_epoch_then_set_epoch_draws_the_original_next_epoch(n, bs, sampler, seed, k, jump):
    "A state saved in the middle of an epoch, restored, then `set_epoch` before that epoch's end: the same next epoch."
    assume(k < n // bs)
    x = np.arange(n * 12).reshape(n, 2, 2, 3).astype(np.uint8); y = np.arange(n) % 2
    mk = lambda: DeviceLoader(x, y, bs, sampler, augment=False, seed=seed, drop_last=True, total_epochs=5)
    a = mk()
    for _ in range(k): a.next_batch()
    b = mk(); b.load_state_dict(_roundtrip_torch(a.state_dict()))
    a.set_epoch(jump); b.set_epoch(jump)
    epoch = lambda ld: torch.cat([ld.next_batch()[1] for _ in range(len(ld))]).tolist()
    assert epoch(a) == epoch(b)


@SOME
@given(N=st.integers(1, 30), bs=st.integers(1, 7), drop=st.booleans(), seed=st.integers(0, 1000))
def test_device_loader_instance_epoch_sees_every_image_once(N, bs, drop, seed):
    assume(not (drop and bs > N))
    ld = DeviceLoader(np.zeros((N, 2, 2, 3), np.uint8), np.arange(N), bs, 'instance', augment=False, seed=seed, drop_last=drop)
    seen = torch.cat([yb for _, yb in ld]).tolist()
    assert len(seen) == (N // bs * bs if drop else N) and len(set(seen)) == len(seen)
    if not drop: assert sorted(seen) == list(range(N))
    assert ld.epoch == 1


# ---------------------------------------------------------------------------------------------------- schedules and BBN
adaptor_names = st.sampled_from(list(ADAPTORS))
DECAYING = ['parabolic_decay', 'linear_decay', 'cosine_decay', 'bbn_cosine_decay']


@MANY
@given(name=adaptor_names, T=st.integers(1, 400), e1=st.floats(-10, 500), e2=st.floats(-10, 500))
def test_adaptors_stay_in_0_1_and_decay_or_grow(name, T, e1, e2):
    a = get_adaptor(name)
    lo, hi = sorted((e1, e2))
    v1, v2 = a(lo, T), a(hi, T)
    assert 0 <= v1 <= 1 and 0 <= v2 <= 1
    if name in DECAYING: assert v1 >= v2
    if name == 'parabolic_increase': assert v1 <= v2
    if name == 'equal': assert v1 == v2 == 0.5


@MANY
@given(name=adaptor_names, T=st.integers(1, 400))
def test_adaptors_start_and_end_where_bbn_says(name, T):
    a = get_adaptor(name)
    if name in DECAYING: assert a(0, T) == 1.0 and a(T, T) <= 1e-15 and a(T + 5, T) == a(T, T)
    if name == 'parabolic_increase': assert a(0, T) == 0.0 and a(T, T) == 1.0


@MANY
@given(f_c=st.lists(st.floats(-5, 5), min_size=1, max_size=6), a=st.floats(0, 1), data=st.data())
def test_bbn_mix_loss_and_accuracy_follow_bbn(f_c, a, data):
    "mix = 2 [a f_c, (1-a) f_r]; loss = a CE(z, y_c) + (1-a) CE(z, y_r); accuracy in [0, 1], plain accuracy at a = 1."
    f_r = data.draw(st.lists(st.floats(-5, 5), min_size=len(f_c), max_size=len(f_c)))
    fc, fr = torch.tensor([f_c], dtype=torch.float64), torch.tensor([f_r], dtype=torch.float64)
    assert torch.allclose(bbn_mix(fc, fr, a), 2 * torch.cat((a * fc, (1 - a) * fr), 1))
    z = torch.tensor(data.draw(st.lists(st.lists(st.floats(-5, 5), min_size=3, max_size=3), min_size=1, max_size=4)), dtype=torch.float64)
    yc = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=len(z), max_size=len(z))))
    yr = torch.tensor(data.draw(st.lists(st.integers(0, 2), min_size=len(z), max_size=len(z))))
    ce = torch.nn.functional.cross_entropy
    assert torch.allclose(bbn_loss(z, yc, yr, a), a * ce(z, yc) + (1 - a) * ce(z, yr))
    acc = float(bbn_accuracy(z, yc, yr, a))
    assert -1e-6 <= acc <= 1 + 1e-6
    if a == 1: assert math.isclose(acc, float((z.argmax(1) == yc).double().mean()), abs_tol=1e-6)


@MANY
@given(a=st.one_of(st.floats(max_value=-1e-12), st.floats(min_value=1 + 1e-9), st.just(math.nan), st.sampled_from(['x', '', None, []])))
def test_bbn_mix_refuses_a_outside_0_1(a):
    with pytest.raises(LTDartsError): bbn_mix(torch.zeros(1, 2), torch.zeros(1, 2), a)


lr_f = st.floats(0, 10)
base_sched = st.one_of(
    st.builds(constant, lr_f), st.builds(cosine, lr_f, lr_f), st.builds(linear, lr_f, lr_f),
    st.builds(step_freeze, lr_f, st.floats(0, 50), lr_f), st.builds(adaptor_scaled, lr_f, adaptor_names, st.floats(0, 4), lr_f))
scheds = st.recursive(base_sched, lambda s: st.one_of(
    st.builds(warmup, s, st.floats(0, 10)), st.builds(scaled, s, st.floats(0, 5)), st.builds(product, st.lists(s, min_size=1, max_size=3))),
    max_leaves=5)


def _vals(s, T=7): return [s(e / 3, T) for e in range(0, 3 * T + 3)]


@MANY
@given(s=scheds)
def test_schedule_spec_string_round_trips(s):
    p = parse_schedule(str(s))
    assert p == s and str(p) == str(s) and _vals(p) == _vals(s)


@MANY
@given(s=scheds)
def test_schedule_dict_round_trips_through_json(s):
    p = schedule_from_dict(json.loads(json.dumps(s.to_dict())))
    assert p == s and hash(p) == hash(s) and _vals(p) == _vals(s)


@MANY
@given(lr=st.floats(1e-6, 10), floor=lr_f, T=st.integers(1, 60))
def test_cosine_is_torchs_cosine_annealing(lr, floor, T):
    s = cosine(lr, floor)
    p = torch.nn.Parameter(torch.zeros(1)); opt = torch.optim.SGD([p], lr=lr)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T, eta_min=floor)
    for e in range(T + 1):
        assert math.isclose(s(e, T), floor + (lr - floor) * (1 + math.cos(math.pi * e / T)) / 2, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(s(e, T), sch.get_last_lr()[0], rel_tol=1e-6, abs_tol=1e-9)
        opt.step(); sch.step()
    assert s(T + 3, T) == s(T, T)


@MANY
@given(kind=st.sampled_from(['cosine', 'linear', 'adaptor_scaled']), lr=lr_f, floor=lr_f, T=st.integers(1, 100),
       adaptor=st.sampled_from(DECAYING), power=st.floats(0, 4))
def test_decaying_schedules_go_monotonically_from_lr_to_floor(kind, lr, floor, T, adaptor, power):
    s = schedule_from_knobs(kind, lr, floor, power, adaptor=adaptor)
    v = s.values(T, 3)
    assert (v >= min(lr, floor) - 1e-12).all() and (v <= max(lr, floor) + 1e-12).all()
    assert (np.diff(v) * (1 if lr >= floor else -1) <= 1e-12).all()
    assert math.isclose(s(0, T), lr, rel_tol=1e-12, abs_tol=1e-15)


@MANY
@given(s=base_sched, E=st.floats(0, 10), T=st.integers(1, 30), e=st.floats(0, 40))
def test_warmup_multiplies_by_min_1_epoch_plus_1_over_E(s, E, T, e):
    assert math.isclose(warmup(s, E)(e, T), s(e, T) * (1 if E == 0 else min(1, (e + 1) / E)), rel_tol=1e-12, abs_tol=1e-300)


@MANY
@given(lr=lr_f, at=st.floats(0, 50), after=lr_f, T=st.integers(1, 60), e=st.floats(0, 80))
def test_step_freeze_switches_at_an_epoch_or_a_fraction(lr, at, after, T, e):
    assert step_freeze(lr, at, after)(e, T) == (lr if e < (at * T if at < 1 else at) else after)


@MANY
@given(a=scheds, b=scheds, f=st.floats(0, 5), T=st.integers(1, 20), e=st.floats(0, 25))
def test_schedule_products_and_scaling_multiply_values(a, b, f, T, e):
    assert math.isclose((a * b)(e, T), a(e, T) * b(e, T), rel_tol=1e-9, abs_tol=1e-300)
    assert math.isclose((a * f)(e, T), f * a(e, T), rel_tol=1e-12, abs_tol=1e-300)
    assert (f * a) == (a * f)


@MANY
@given(w=scheds, n=scheds, r=st.one_of(st.none(), scheds))
def test_hetero_schedule_round_trips_and_becomes_search_options(w, n, r):
    h = HeteroSchedule(w, n, r)
    h2 = HeteroSchedule.from_dict(json.loads(json.dumps(h.to_dict())))
    assert h2 == h and h2.lrs_at(1.5, 4) == h.lrs_at(1.5, 4)
    o = schedule_options(h)
    assert parse_schedule(o['w_schedule']) == h.w and parse_schedule(o['arch_schedule']) == h.alpha_normal


@MANY
@given(bad=st.one_of(st.floats(max_value=-1e-12), st.just(math.nan), st.just(math.inf), st.booleans()))
def test_schedules_refuse_negative_or_non_finite_parameters(bad):
    for f in (lambda: constant(bad), lambda: cosine(1, bad), lambda: warmup(1, bad), lambda: scaled(1, bad)):
        with pytest.raises(LTDartsError): f()


@MANY
@given(lr=st.floats(1e-6, 1), floor=st.floats(0, 1), power=st.floats(0, 4), adaptor=adaptor_names, E=st.integers(1, 60),
       kind=st.sampled_from(['', 'adaptor_scaled', 'constant', 'cosine', 'linear', 'step_freeze']), method=st.sampled_from(list(METHODS)))
def test_arch_schedule_of_a_search_config(lr, floor, power, adaptor, E, kind, method):
    "adaptor_scaled: floor*lr + (lr - floor*lr) * a(t)^p (arch_floor a fraction of arch_lr); one rate for both cells by default."
    cfg = tiny_config(method=method, arch_lr=lr, arch_floor=floor, arch_power=power, bbn_adaptor=adaptor, arch_schedule=kind, epochs=E)
    s = arch_schedule(cfg)
    k = kind or get_method(method).arch_schedule
    a = get_adaptor(adaptor)
    for t in np.linspace(0, E, 13):
        v = s(t, E)
        if k == 'adaptor_scaled':
            assert math.isclose(v, floor * lr + (lr - floor * lr) * a(t, E) ** power, rel_tol=1e-12, abs_tol=1e-18)
            assert floor * lr - 1e-15 <= v <= lr + 1e-15
        if k == 'constant': assert v == lr
    assert arch_schedule(cfg, cell='reduce') == s
    if method == 'bbn_alr' and not kind and adaptor in DECAYING: assert (np.diff(s.values(E, 4)) <= 1e-15).all()


# ---------------------------------------------------------------------------------------------------- genotypes and the search space
@st.composite
def weights_st(draw, n_ops=None, ties=False):
    "(alpha weights of a cell, steps, primitives with 'none' at a drawn column)."
    steps, n_ops = draw(st.integers(1, 5)), n_ops or draw(st.integers(2, 8))
    vals = st.sampled_from([0.0, 0.1, 0.25, 0.5]) if ties else st.floats(0, 1)
    W = draw(st.lists(st.lists(vals, min_size=n_ops, max_size=n_ops), min_size=cell_n_edges(steps), max_size=cell_n_edges(steps)))
    none_at = draw(st.integers(0, n_ops - 1))
    others = [p for p in OPS if p != 'none'][:n_ops - 1]
    return torch.tensor(W, dtype=torch.float64), steps, others[:none_at] + ['none'] + others[none_at:]


def _darts_parse(W, steps, prims):
    "quark0/darts model_search.Network.genotype's _parse, with 'none' looked up by name."
    W, gene, n, start, none = W.tolist(), [], 2, 0, prims.index('none')
    for i in range(steps):
        Wi = W[start:start + n]
        edges = sorted(range(i + 2), key=lambda x: -max(Wi[x][k] for k in range(len(Wi[x])) if k != none))[:2]
        for j in edges:
            k_best = None
            for k in range(len(Wi[j])):
                if k != none and (k_best is None or Wi[j][k] > Wi[j][k_best]): k_best = k
            gene.append((prims[k_best], j))
        start += n; n += 1
    return gene


@MANY
@given(w=st.one_of(weights_st(), weights_st(ties=True)))
def test_derive_genotype_is_darts_parse(w):
    W, steps, prims = w
    g = derive_genotype(W, steps, prims)
    assert g == _darts_parse(W, steps, prims)
    assert len(g) == 2 * steps and all(op != 'none' for op, _ in g)
    assert all(g[2 * i][1] != g[2 * i + 1][1] and max(g[2 * i][1], g[2 * i + 1][1]) < i + 2 for i in range(steps))


@MANY
@given(n=st.integers(0, 300))
@example(n=14)
def test_cells_have_s_s_plus_3_over_2_edges_and_other_counts_are_refused(n):
    s = next((s for s in range(1, 30) if s * (s + 3) // 2 == n), None)
    assert cell_steps(n) == s
    if s is not None: assert cell_n_edges(s) == n
    w = torch.full((n, len(PRIMITIVES)), 1 / len(PRIMITIVES))
    if s is None:
        with pytest.raises(LTDartsError): genotype_from_weights(w, w)
    else:
        g = genotype_from_weights(w, w)
        assert len(g.normal) == len(g.reduce) == 2 * s and g.normal_concat == list(range(2, s + 2))


op_names = st.sampled_from(PRIMITIVES + ['foo'])


@st.composite
def genotypes_st(draw):
    def cell():
        steps = draw(st.integers(1, 5))
        edges = [(draw(op_names), draw(st.integers(0, k // 2 + 1))) for k in range(2 * steps)]
        return edges, draw(st.lists(st.integers(0, steps + 1), min_size=1, max_size=steps + 2))
    (n, nc), (r, rc) = cell(), cell()
    return Genotype(n, nc, r, rc)


@MANY
@given(g=genotypes_st())
def test_genotype_round_trips_and_counts_its_ops(scratch, g):
    assert genotype_from_dict(json.loads(json.dumps(genotype_to_dict(g)))) == g
    with scratch() as d:
        save_genotype(g, d/'g.json')
        assert load_genotype(d/'g.json') == g
    assert n_skip(g) == sum(op == 'skip_connect' for op, _ in g.normal)
    assert n_param_free(g, 'reduce') == sum(op in PARAM_FREE for op, _ in g.reduce)
    assert sum(count_ops(g).values()) == len(g.normal)


@MANY
@given(g=genotypes_st(), key=st.sampled_from(Genotype._fields), bad=st.sampled_from([True, 1.5, '2', None, [['op']], [[1, 2]]]))
def test_genotype_from_dict_refuses_malformed_fields(g, key, bad):
    d = genotype_to_dict(g)
    if key.endswith('concat'): d[key] = [bad]
    else: d[key] = [[d[key][0][0] if d[key] else 'x', bad]] if not isinstance(bad, list) else bad
    with pytest.raises(LTDartsError): genotype_from_dict(d)


@MANY
@given(a=st.integers(1, 6).flatmap(lambda n: st.lists(st.lists(st.floats(-20, 20), min_size=n, max_size=n), min_size=1, max_size=6)))
def test_edge_entropy_is_between_0_and_log_n(a):
    p = torch.tensor(a, dtype=torch.float64).softmax(-1)
    n = p.shape[-1]
    h = edge_entropy(p)
    assert ((h >= -1e-12) & (h <= math.log(n) + 1e-12)).all()
    assert torch.allclose(edge_entropy(torch.full((1, n), 1 / n, dtype=torch.float64)), torch.tensor([math.log(n)], dtype=torch.float64))


@SOME
@given(w=weights_st(n_ops=len(PRIMITIVES)), logits=st.booleans())
def test_collapse_metrics_count_the_derived_genotype(w, logits):
    W, _, _ = w
    W = W if logits else W.softmax(-1)
    m = collapse_metrics((W, W), logits=logits)
    P = W.float().softmax(-1) if logits else W.float()           # collapse_metrics works in float32 (ties as float32 sees them)
    g = genotype_from_weights(P, P)
    assert m['skip_normal'] == n_skip(g) and m['param_free_reduce'] == n_param_free(g, 'reduce')
    assert math.isclose(sum(m[f'w_normal_{op}'] for op in PRIMITIVES), 1.0, rel_tol=1e-5)


@MANY
@given(eigs=st.lists(st.floats(0.01, 100), max_size=14), growth=st.floats(1, 3), w=st.integers(1, 4), lag=st.integers(1, 4),
       skips=st.lists(st.integers(0, 8), max_size=14), max_skip=st.integers(0, 8))
def test_collapse_guard_fires_on_skips_or_eigenvalue_growth_and_round_trips(eigs, growth, w, lag, skips, max_skip):
    mk = lambda: CollapseGuard(max_skip=max_skip, eig_growth=growth, eig_window=w, eig_lag=lag, action='stop')
    g = mk()
    for i, (eig, sk) in enumerate(zip(eigs, skips)):
        msgs = g.check(dict(epoch=i, skip_normal=sk, hessian_eig=eig))
        h = g.eig_history
        grew = len(h) >= w + lag and sum(h[-w:]) / w > growth * (sum(h[-w - lag:-lag]) / w)
        assert bool(msgs) == (sk > max_skip or grew) == g.should_stop
        g2 = mk(); g2.load_state_dict(json.loads(json.dumps(g.state_dict())))
        assert g2.state_dict() == g.state_dict()


@SOME
@given(eigs=st.lists(st.floats(-10, 10).filter(lambda v: abs(v) > 0.05), min_size=1, max_size=4), seed=st.integers(0, 1000),
       largest=st.sampled_from(['magnitude', 'algebraic']), wd=st.sampled_from([0.0, 0.3]))
def test_hessian_max_eigenvalue_of_a_quadratic(eigs, seed, largest, wd):
    "0.5 a^T H a (+ weight decay wd): the eigenvalue of H + wd I of largest magnitude, or the largest one."
    ev = np.array(eigs) + wd
    mags = np.sort(np.abs(ev))[::-1]
    assume(len(ev) == 1 or mags[0] > 1.5 * mags[1])              # a spectral gap: power iteration converges
    alg = np.sort(ev)[::-1]
    if largest == 'algebraic' and len(ev) > 2: assume(alg[0] - alg[-1] > 1.5 * (alg[1] - alg[-1]))
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    H = Q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ Q.T
    a = torch.nn.Parameter(torch.randn(len(eigs), generator=g, dtype=torch.float64))
    lam = hessian_max_eigenvalue(None, lambda m, b: 0.5 * a @ H @ a, [0], iters=2000, tol=1e-13, params=[a], largest=largest,
                                 weight_decay=wd)
    assert math.isclose(lam, ev[np.argmax(np.abs(ev))] if largest == 'magnitude' else ev.max(), rel_tol=1e-4, abs_tol=1e-6)


@MANY
@given(name=st.sampled_from(list(OPS)), stride=st.sampled_from([1, 2]), H=st.integers(1, 9), W=st.integers(1, 9))
def test_ops_keep_channels_and_divide_the_side_by_the_stride(name, stride, H, W):
    op = make_op(name, 2, stride, False).eval()
    with torch.no_grad(): y = op(torch.randn(2, 2, H, W))
    assert y.shape == (2, 2, math.ceil(H / stride), math.ceil(W / stride))


@MANY
@given(p=st.floats(0, 0.99), seed=st.integers(0, 1000))
def test_drop_path_zeroes_or_rescales_whole_samples(p, seed):
    x = torch.rand(6, 3) + 0.5
    y = drop_path(x, p, torch.Generator().manual_seed(seed))
    assert all(torch.allclose(y[i], torch.zeros(3)) or torch.allclose(y[i], x[i] / (1 - p)) for i in range(6))


@FEW
@given(steps=st.integers(1, 3), mult=st.integers(1, 3), red=st.booleans(), red_prev=st.booleans(), train=st.booleans(),
       prims=st.sampled_from([None, ['none', 'skip_connect', 'max_pool_3x3'], ['none', 'avg_pool_3x3', 'sep_conv_3x3', 'dil_conv_3x3']]),
       seed=st.integers(0, 1000))
def test_search_cell_fast_path_equals_naive_and_batched_edges(steps, mult, red, red_prev, train, prims, seed):
    "Outputs and batch-norm buffers of the default, the naive (per edge, per op) and the batched-edges forward agree."
    assume(mult <= steps)
    torch.manual_seed(seed)
    cell = SearchCell(steps, mult, 4, 4, 2, red, red_prev, prims).double().train(train)
    w = torch.randn(cell_n_edges(steps), len(prims or PRIMITIVES), dtype=torch.float64).softmax(-1)
    side = 2 * 4 if red_prev else 4
    s0, s1 = torch.randn(2, 4, side, side, dtype=torch.float64), torch.randn(2, 4, 4, 4, dtype=torch.float64)
    naive, batched = copy.deepcopy(cell), copy.deepcopy(cell)
    batched.batch_edges = True
    out, ref, bat = cell(s0, s1, w), naive(s0, s1, w, naive=True), batched(s0, s1, w)
    assert torch.allclose(out, ref, atol=1e-10) and torch.allclose(bat, ref, atol=1e-10)
    for (n, b1), (_, b2), (_, b3) in zip(cell.named_buffers(), naive.named_buffers(), batched.named_buffers()):
        assert torch.allclose(b1.double(), b2.double(), atol=1e-10) and torch.allclose(b3.double(), b2.double(), atol=1e-10), n


@FEW
@given(layers=st.integers(3, 5), steps=st.integers(1, 2), data=st.data())
def test_bilateral_supernet_splits_weights_from_alphas_and_copies_them(layers, steps, data):
    bc = data.draw(st.integers(1, layers - 1))
    m = BilateralSearchNetwork(2, 3, layers, steps=steps, multiplier=1, branch_cells=bc)
    ws, arch = {id(p) for p in m.weights()}, {id(a) for a in m.arch_parameters()}
    assert len(ws) == len(m.weights()) and not ws & arch and ws | arch == {id(p) for p in m.parameters()}
    wn, wr = m.alpha_weights()
    assert torch.allclose(wn.sum(-1), torch.ones(len(wn))) and torch.allclose(wr.sum(-1), torch.ones(len(wr)))
    m2 = m.new()
    assert all(torch.equal(a, b) for a, b in zip(m.arch_parameters(), m2.arch_parameters()))
    assert m2.config == m.config and m2.genotype() == m.genotype()


# ---------------------------------------------------------------------------------------------------- configs
SEARCH_FIELDS = {f.name: f for f in fields(SearchConfig)}


@MANY
@given(ratio=st.floats(1, 500), seed=st.integers(0, 2**32 - 1), epochs=st.integers(1, 500), method=st.sampled_from(list(METHODS)),
       prim=st.sampled_from(['', 'none,skip_connect']), dev=st.sampled_from(['cpu', 'cuda']),
       root=st.one_of(st.none(), st.text(max_size=5)))
def test_search_config_round_trips_and_diffs(ratio, seed, epochs, method, prim, dev, root):
    c = SearchConfig(imb_ratio=ratio, seed=seed, epochs=epochs, method=method, primitives=prim, device=dev, data_root=root)
    d = json.loads(json.dumps(c.to_dict()))
    assert SearchConfig.from_dict(d) == c and c.diff(SearchConfig.from_dict(d)) == {}
    assert c.diff(SearchConfig.from_dict({**d, 'epochs': epochs + 1})) == {'epochs': (epochs, epochs + 1)}
    c.check_types()
    t = TrainConfig.from_search(c)
    assert all(getattr(t, k) == getattr(c, k) for k in SHARED_FIELDS if k != 'method_opts')


@MANY
@given(key=st.text(min_size=1, max_size=8).filter(lambda k: k not in SEARCH_FIELDS))
def test_search_config_refuses_unknown_keys(key):
    with pytest.raises(LTDartsError): SearchConfig.from_dict({key: 1})


@MANY
@given(name=st.sampled_from([n for n, f in SEARCH_FIELDS.items() if str(f.type) in ('int', 'float', 'bool', 'str')]),
       v=st.one_of(st.text(max_size=3), st.lists(st.integers(), max_size=1), st.just(None)))
def test_search_config_check_types_refuses_wrong_types(name, v):
    assume(not (str(SEARCH_FIELDS[name].type) == 'str' and isinstance(v, str)))
    with pytest.raises(LTDartsError): SearchConfig(**{name: v}).check_types()


@st.composite
def search_cfgs(draw):
    "`tiny_config`s whose shape fields are drawn over and beyond what a supernet can build."
    layers, steps = draw(st.integers(3, 5)), draw(st.integers(1, 3))
    return tiny_config(method=draw(st.sampled_from(list(METHODS))), layers=layers, steps=steps, multiplier=draw(st.integers(1, 3)),
                       C=draw(st.integers(1, 6)), bbn_branch_cells=draw(st.integers(0, layers)), epochs=draw(st.integers(1, 4)),
                       primitives=draw(st.sampled_from(['', 'none,skip_connect', 'none', 'none,max_pool_3x3,sep_conv_3x3'])))


@SOME
@given(cfg=search_cfgs())
@example(cfg=tiny_config(C=3))
@example(cfg=tiny_config(steps=1, multiplier=2))
@example(cfg=tiny_config(method='bbn', bbn_branch_cells=3))
@example(cfg=tiny_config(primitives='none', steps=1, multiplier=1))
def test_search_refuses_a_supernet_it_cannot_build_before_writing(scratch, cfg):
    "A config whose supernet cannot be built, or keeps no operation to derive a genotype from, fails before its run folder exists."
    try:
        get_method(cfg.method)(cfg, [10] * 10, 'cpu').build_model(10).genotype()
    except Exception:
        with scratch() as d:
            with pytest.raises(LTDartsError): search(cfg, out=d/'run', progress=False, verbose=False)
            assert not (d/'run').exists()


SWEEP_SET = ('method', 'imb_ratio', 'seed', 'device')          # a sweep sets these per cell


@SOME
@given(method=st.sampled_from(list(METHODS)), search_layers=st.integers(3, 5), branch=st.integers(0, 5), layers=st.integers(2, 7),
       C=st.integers(1, 6), aux=st.booleans())
@example(method='ce', search_layers=3, branch=1, layers=5, C=3, aux=False)
@example(method='ce', search_layers=3, branch=1, layers=2, C=4, aux=False)
@example(method='bbn', search_layers=5, branch=2, layers=6, C=4, aux=True)
def test_training_a_network_it_cannot_build_is_refused_before_writing_and_at_sweep_planning(scratch, method, search_layers, branch,
                                                                                             layers, C, aux):
    """Odd C, too few cells, branch cells out of range or an auxiliary head inside a BBN branch: `train_genotype` refuses
    before its run folder exists, and a sweep that would evaluate such a network is refused when planned, not after a search."""
    sc = tiny_config(method=method, layers=search_layers, bbn_branch_cells=branch)
    tc = TrainConfig.from_search(sc, layers=layers, C=C, auxiliary=aux)
    try:
        get_train_mode(tc.mode)(tc, [10] * 10, 'cpu').build_model(10, DARTS_V2)
    except Exception:
        with scratch() as d:
            with pytest.raises(LTDartsError): train_genotype(DARTS_V2, tc, out=d/'run', progress=False, verbose=False)
            assert not (d/'run').exists()
            search_opts = {k: b for k, (a, b) in SearchConfig().diff(sc).items() if k not in SWEEP_SET}
            with pytest.raises(LTDartsError):
                plan_sweep(make_sweep(root=str(d/'sw'), methods=method, ratios=[10.0], seeds=[0], device='cpu', jobs=1, train=True,
                                      search_opts=search_opts, train_opts=dict(layers=layers, C=C, auxiliary=aux)))


@SOME
@given(frac=st.one_of(st.floats(max_value=0), st.floats(min_value=1)), beta=st.floats(min_value=1))
def test_search_refuses_settings_outside_their_documented_ranges_before_writing(scratch, frac, beta):
    for kw in (dict(train_frac=frac), dict(rw_beta=beta), dict(arch_floor=1 + beta), dict(bbn_infer_a=beta + 0.5),
               dict(w_momentum=beta), dict(arch_start=5, epochs=5), dict(layers=2)):
        with scratch() as d:
            with pytest.raises(LTDartsError): search(tiny_config(**kw), out=d/'run', progress=False, verbose=False)
            assert not (d/'run').exists()


@MANY
@given(method=st.sampled_from(list(METHODS)), size=st.integers(4, 40), ws=st.sampled_from(['', 'class', 'sqrt', 'progressive']),
       reweight=st.sampled_from(['inverse', 'effective']), beta=st.floats(0, 0.99999), a=st.floats(0, 1))
def test_a_valid_search_config_gives_a_valid_training_config(method, size, ws, reweight, beta, a):
    "from_search keeps the shared fields, takes the method's training mode, an auxiliary head only for images of 29x29 or more."
    sc = tiny_config(method=method, synthetic_size=size, weight_sampler=ws, reweight=reweight, rw_beta=beta, bbn_infer_a=a)
    check_search_config(sc)
    tc = TrainConfig.from_search(sc)
    check_train_config(tc)
    assert tc.mode == get_method(method).train_mode and tc.cutout == min(16, size // 2) and tc.auxiliary == (size >= 29)
    assert all(getattr(tc, k) == getattr(sc, k) for k in SHARED_FIELDS)


@MANY
@given(vals=st.fixed_dictionaries({'tau': st.floats(-1e6, 1e6), 'k': st.integers(-1000, 1000), 'on': st.booleans(),
                                   'name': st.text('abcxyz_', min_size=1, max_size=5)}),
       keys=st.lists(st.sampled_from(['tau', 'k', 'on', 'name']), unique=True))
def test_method_options_type_the_values_as_their_defaults(vals, keys):
    declared = dict(tau=1.0, k=3, on=False, name='a')
    out = method_options(declared, ','.join(f'{k}={vals[k]!r}' if k != 'name' else f'{k}={vals[k]}' for k in keys))
    for k in declared:
        assert out[k] == (vals[k] if k in keys else declared[k]) and type(out[k]) is type(declared[k])


@MANY
@given(hist=st.lists(st.fixed_dictionaries({}, optional={'val_acc': st.floats(0, 1)}), min_size=1, max_size=10))
def test_select_epoch_last_or_latest_best_validation(hist):
    assert select_epoch(hist, 'last') == len(hist) - 1
    ev = [i for i, r in enumerate(hist) if 'val_acc' in r]
    if not ev:
        with pytest.raises(LTDartsError): select_epoch(hist, 'best_val')
        return
    best = max(hist[j]['val_acc'] for j in ev)
    assert select_epoch(hist, 'best_val') == max(j for j in ev if hist[j]['val_acc'] == best)


@MANY
@given(E=st.integers(1, 200), k=st.integers(0, 300))
def test_eval_epochs_are_every_kth_and_the_last(E, k):
    ev = [e for e in range(E) if is_eval_epoch(e, E, k)]
    assert n_evaluations(E, k) == len(ev)
    assert set(ev) == ({e for e in range(E) if (e + 1) % k == 0} if k else set()) | {E - 1}


@SOME
@given(data=st.data(), C=st.integers(2, 5), N=st.integers(1, 25), bs=st.integers(1, 8))
def test_evaluate_matches_brute_force_metrics(data, C, N, bs):
    "Mean cross-entropy, accuracy, per-class accuracy and the groups' means of per-class accuracy, batch by batch."
    y = np.array(data.draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    L = np.array(data.draw(st.lists(st.lists(st.integers(-3, 3), min_size=C, max_size=C), min_size=N, max_size=N)), float)
    groups = class_groups(data.draw(st.lists(st.integers(1, 300), min_size=C, max_size=C)),
                          mode=data.draw(st.sampled_from(['thirds', 'threshold'])))
    ld = DeviceLoader(np.zeros((N, 1, 1, 3), np.uint8), y, bs, 'sequential', augment=False)
    it = iter(torch.tensor(L, dtype=torch.float32))
    res = evaluate(torch.nn.Linear(1, 1), ld, lambda m, x: torch.stack([next(it) for _ in range(len(x))]), C, groups)
    pred = L.argmax(1)                                             # ties: the first maximum, as torch.argmax
    assert math.isclose(res['loss'], torch.nn.functional.cross_entropy(torch.tensor(L), torch.tensor(y)).item(), rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(res['acc'], (pred == y).mean(), rel_tol=1e-9)
    for c in range(C):
        m = y == c
        assert math.isclose(res['per_class'][c], (pred[m] == c).mean() if m.any() else 0.0, rel_tol=1e-6, abs_tol=1e-9)
    for g, idx in groups.items():
        if len(idx): assert math.isclose(res[g], np.mean([res['per_class'][i] for i in idx]), rel_tol=1e-9)
        else: assert g not in res


# ---------------------------------------------------------------------------------------------------- results tables
def _rows(draw):
    return [dict(imb_ratio=draw(st.sampled_from([10.0, 50.0, 100.0])), method=draw(st.sampled_from(['ce', 'rs', 'bbn'])),
                 bbn_adaptor=None, arch_schedule='', arch_schedule_reduce='', variant='', seed=draw(st.integers(0, 3)), path=str(i),
                 test_acc=draw(st.one_of(st.none(), st.floats(0, 1))), skip_normal=draw(st.integers(0, 8)),
                 epochs=3, epochs_run=draw(st.integers(1, 3)), finished=draw(st.booleans()))
            for i in range(draw(st.integers(1, 12)))]


@MANY
@given(data=st.data())
def test_group_stats_are_statistics_mean_and_sample_stdev(data):
    rows = _rows(data.draw)
    out = group_stats(rows, ('imb_ratio', 'method'), ('test_acc', 'skip_normal'))
    keys = {(r['imb_ratio'], r['method']) for r in rows}
    assert {(g['imb_ratio'], g['method']) for g in out} == keys and len(out) == len(keys)
    for g in out:
        rs = [r for r in rows if (r['imb_ratio'], r['method']) == (g['imb_ratio'], g['method'])]
        rs = [r for r in rs if r['finished']] or rs         # the finished runs alone, where the group has any
        assert g['n'] == len(rs)
        for m in ('test_acc', 'skip_normal'):
            v = [float(r[m]) for r in rs if r[m] is not None]
            if v: assert math.isclose(g[f'{m}_mean'], statistics.mean(v), rel_tol=1e-12, abs_tol=1e-15)
            else: assert g[f'{m}_mean'] is None
            if len(v) > 1: assert math.isclose(g[f'{m}_std'], statistics.stdev(v), rel_tol=1e-9, abs_tol=1e-12)
            else: assert g[f'{m}_std'] is None


@MANY
@given(data=st.data())
def test_results_table_csv_holds_the_exact_statistics(data):
    rows = _rows(data.draw)
    by, metrics = ('imb_ratio', 'method'), ('test_acc', 'skip_normal')
    got, stats = list(csv.DictReader(io.StringIO(results_table(rows, by, metrics, fmt='csv')))), group_stats(rows, by, metrics)
    assert len(got) == len(stats)
    for r, g in zip(got, stats):
        assert float(r['imb_ratio']) == g['imb_ratio'] and r['method'] == g['method'] and int(r['n']) == g['n'] and r['note'] == g['note']
        for k in ('test_acc_mean', 'test_acc_std', 'skip_normal_mean', 'skip_normal_std'):
            assert (r[k] == '' and g[k] is None) or float(r[k]) == g[k]
    lines = results_table(rows, by, metrics).strip().split('\n')
    assert len(lines) == 2 + len(stats) and len({l.count('|') for l in lines}) == 1


@MANY
@given(data=st.data())
def test_run_map_names_every_matching_run_once(data):
    rows = _rows(data.draw)
    where = data.draw(st.fixed_dictionaries({}, optional={'imb_ratio': st.sampled_from([10.0, 100.0]), 'seed': st.integers(0, 3)}))
    out = run_map(rows, 'method', **where)
    match = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    assert len(out) == len(match) and sorted(out.values()) == sorted(r['path'] for r in match)


# ---------------------------------------------------------------------------------------------------- sweeps
@MANY
@given(xs=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6, unique=True))
def test_parse_list_reads_back_its_items(xs):
    assert parse_list(','.join(map(repr, xs)), float) == xs


@MANY
@given(xs=st.lists(st.integers(-5, 5), min_size=2, max_size=6).filter(lambda x: len(set(x)) < len(x)))
def test_parse_list_refuses_repeats(xs):
    with pytest.raises(LTDartsError): parse_list(','.join(map(str, xs)), int)


digits15 = st.floats(1, 1e6).map(lambda r: float(f'{r:.15g}'))        # ratios as a user writes them: up to 15 significant digits
cells_st = st.lists(st.tuples(digits15, st.sampled_from(list(METHODS)), st.sampled_from(['', 'bbn_adaptor=equal', 'a.b+c=d']),
                              st.integers(0, 10**6)), min_size=1, max_size=4, unique=True)


@SOME
@given(cells=cells_st)
@example(cells=[(12.345671, 'ce', '', 0), (12.345672, 'ce', '', 0)])
def test_cell_folders_are_distinct_and_read_back(scratch, cells):
    "Every (ratio, method, variant, seed) has its own folder, and collect_sweep reads the cell back from the folder's name."
    with scratch() as d:
        for r, m, v, s in cells: (d/cell_name(r, m, s, v)).mkdir(parents=True, exist_ok=True)
        rows = collect_sweep(d)
    assert sorted((row['imb_ratio'], row['method'], row['variant'], row['seed']) for row in rows) == sorted(cells)


@FEW
@given(r=st.floats(1, 1000).map(lambda r: float(f'{r:.15g}')), eps=st.floats(1e-9, 1e-6))
@example(r=12.345671, eps=1e-7)
def test_plan_sweep_gives_close_ratios_their_own_folders(scratch, r, eps):
    r2 = float(f'{r * (1 + eps):.15g}')
    assume(r2 != r)
    with scratch() as d:
        cells = plan_sweep(make_sweep(root=str(d/'sw'), methods='ce', ratios=[r, r2], seeds='0', device='cpu', jobs=1, train=False))
    assert len({c.dir for c in cells}) == len(cells) == 2 and {c.ratio for c in cells} == {r, r2}


@FEW
@given(methods=st.lists(st.sampled_from(list(METHODS)), min_size=1, max_size=3, unique=True),
       ratios=st.lists(st.sampled_from([1.0, 2.0, 10.0, 50.0, 100.0, 1e6]), min_size=1, max_size=3, unique=True),
       seeds=st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True), train=st.booleans(),
       vary=st.sampled_from(['', 'bbn_adaptor=equal,linear_decay', 'train.lr=0.1,0.2', 'arch_lr=0.001 train.lr=0.1,0.2']),
       devs=st.sampled_from(['cpu', 'cpu,mps']))
def test_plan_sweep_plans_the_grid_in_run_order(scratch, methods, ratios, seeds, train, vary, devs):
    "One cell per (seed, ratio, method, variant) in that order, less the variants that share an earlier one's search when not evaluating."
    with scratch() as d:
        cfg = make_sweep(root=str(d/'sw'), methods=methods, ratios=ratios, seeds=seeds, train=train, vary=vary, device=devs, jobs=1,
                         executor='local' if devs == 'cpu' else 'submitit')
        cells = plan_sweep(cfg)
    nv = len(cfg.variants) or 1
    shared = shared_searches(cfg.variants, cfg.search_opts) if cfg.variants else {}
    assert len(cells) == len(methods) * len(ratios) * len(seeds) * (nv if train else nv - len(shared))
    assert len({c.name for c in cells}) == len({c.dir for c in cells}) == len(cells)
    vnames = list(cfg.variants or {'': 0})
    keys = [(seeds.index(c.seed), ratios.index(c.ratio), methods.index(c.method), vnames.index(c.variant)) for c in cells]
    assert keys == sorted(keys)
    for c in cells:
        assert (c.train_args is not None) == train and not c.finished and all(c.state(s) == 'new' for s in c.stages)
        assert c.search_args[c.search_args.index('--device') + 1] == c.device


@FEW
@given(method=st.sampled_from(list(METHODS)), ratio=st.sampled_from([10.0, 100.0]), seed=st.integers(0, 3),
       change=st.sampled_from([None, ('epochs', 7), ('w_lr', 0.5), ('eval_every', 3), ('device', 'cuda'), ('batch_edges', True)]),
       done=st.booleans())
def test_plan_sweep_skips_resumes_or_refuses_a_changed_run(scratch, method, ratio, seed, change, done):
    "A run folder of the same settings is skipped (done) or resumed; one whose other settings differ is refused."
    with scratch() as d:
        mk = lambda: make_sweep(root=str(d/'sw'), methods=method, ratios=[ratio], seeds=[seed], device='cpu', jobs=1, train=False,
                                search_opts='epochs=3')
        (c,) = plan_sweep(mk())
        s = Path(c.dir)/'search'; s.mkdir(parents=True)
        cfg = SearchConfig(epochs=3, method=method, imb_ratio=ratio, seed=seed).to_dict()
        if change: cfg[change[0]] = change[1]
        save_json(cfg, s/'config.json'); (s/'history.jsonl').write_text('{"epoch": 0}\n')
        if done: save_json({}, s/'result.json')
        if change is not None and change[0] not in SearchConfig.EXEC_FIELDS:
            with pytest.raises(LTDartsError, match='other settings'): plan_sweep(mk())
            return
        (c2,) = plan_sweep(mk())
        assert c2.state('search') == ('done' if done else 'resume') and c2.finished == done


@SOME
@given(opts=st.dictionaries(st.sampled_from(['epochs', 'batch_size', 'w_lr', 'arch_lr', 'imb_ratio', 'bbn_adaptor', 'deterministic',
                                             'fused', 'channels_last', 'primitives', 'data_root']),
                            st.one_of(st.integers(0, 10**6), st.floats(0, 1e6), st.booleans(), st.text('abc_ ,', max_size=6)), max_size=6))
def test_sweep_options_become_flags_the_search_command_reads_back(opts):
    defaults = field_defaults(SearchConfig)
    try: typed = parse_options(opts, defaults, 'search')
    except LTDartsError: return
    from lt_darts_nb.cli import lt_darts_search
    ns = vars(command_parser(lt_darts_search).parse_args(to_flags(typed, defaults)))
    for k, v in typed.items():
        if v is None: continue
        if isinstance(v, float): assert float(ns[k]) == v
        elif isinstance(v, bool): assert ns[k] == v
        else: assert (type(defaults[k])(ns[k]) if defaults[k] is not None else ns[k]) == v


VARY_VALUES = {
    'bbn_adaptor': sorted(ADAPTORS), 'arch_lr': ['0.001', '3e-4', '0.006'], 'train.lr': ['0.1', '0.025'],
    'primitives': ['none,skip_connect', 'none,sep_conv_3x3,max_pool_3x3', 'none,dil_conv_5x5'],
    'arch_schedule': ["adaptor_scaled(0.0003, 'parabolic_decay', power=2.0)", 'cosine(0.0003, 0.00001)',
                      'warmup(cosine(0.0003, 0.00001), 5)'],
    'arch_schedule_reduce': ["adaptor_scaled(0.0003, 'bbn_cosine_decay', power=2.0)", 'linear(0.0003, 0.0)']}
FLOAT_OPTIONS = ('arch_lr', 'train.lr')


@st.composite
def vary_st(draw):
    "A --vary string of 1-3 axes with 1-3 values each (a value with commas or spaces in double quotes), and its axes."
    keys = draw(st.lists(st.sampled_from(list(VARY_VALUES)), min_size=1, max_size=3, unique=True))
    axes = {k: draw(st.lists(st.sampled_from(VARY_VALUES[k]), min_size=1, max_size=3, unique=True)) for k in keys}
    q = lambda v: f'"{v}"' if (',' in v or ' ' in v or draw(st.booleans())) else v
    return ' '.join(f"{k}={','.join(map(q, vs))}" for k, vs in axes.items()), axes


@SOME
@given(vary=vary_st())
@example(vary=(f'arch_schedule="{VARY_VALUES["arch_schedule"][0]}" arch_schedule_reduce="{VARY_VALUES["arch_schedule_reduce"][0]}"',
               {'arch_schedule': VARY_VALUES['arch_schedule'][:1], 'arch_schedule_reduce': VARY_VALUES['arch_schedule_reduce'][:1]}))
def test_vary_makes_every_combination_under_a_valid_folder_name(vary):
    "One variant per combination, named option=value+... (other characters as '-'); a name over 120 characters is cut to 111 and a hash."
    s, axes = vary
    out = parse_variants(s)
    typed = lambda k, v: float(v) if k in FLOAT_OPTIONS else v
    assert len(out) == math.prod(len(v) for v in axes.values())
    combos = {tuple(typed(k, v) for k, v in zip(axes, c)) for c in itertools.product(*axes.values())}
    assert {tuple(o[k] for k in axes) for o in out.values()} == combos
    slug = lambda v: re.sub(r'[^A-Za-z0-9._-]+', '-', v).strip('-')
    for name, o in out.items():
        full = '+'.join(f'{k}={slug(next(v for v in axes[k] if typed(k, v) == o[k]))}' for k in axes)
        assert re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._=+-]{0,119}', name)
        if len(full) <= 120: assert name == full
        else: assert len(name) == 120 and name[:111] == full[:111] and re.fullmatch(r'-[0-9a-f]{8}', name[111:])


@MANY
@given(lrs=st.lists(st.sampled_from([0.1, 0.2, 0.3]), min_size=1, max_size=4, unique=True), arch_lr=st.sampled_from([None, 0.001, 3e-4]))
def test_variants_differing_only_in_training_share_the_first_ones_search(lrs, arch_lr):
    vs = {f'v{i}': {'train.lr': lr, **({'arch_lr': arch_lr} if arch_lr is not None else {})} for i, lr in enumerate(lrs)}
    assert shared_searches(vs) == {f'v{i}': 'v0' for i in range(1, len(lrs))}


@MANY
@given(jobs=st.integers(1, 40), devs=st.lists(st.sampled_from(['cpu', 'mps', 'cuda:0', 'cuda:1']), min_size=1, max_size=4))
def test_device_slots_spread_a_number_evenly_in_the_devices_order(jobs, devs):
    s = device_slots(jobs, devs)
    assert list(s) == list(dict.fromkeys(devs)) and sum(s.values()) == jobs
    assert max(s.values()) - min(s.values()) <= 1 and list(s.values()) == sorted(s.values(), reverse=True)
    assert device_slots(str(jobs), devs) == device_slots(float(jobs), devs) == s          # '3' and 3.0 (JSON) are three jobs


@MANY
@given(j=st.integers(1, 16), frac=st.floats(0.01, 0.99), bad=st.integers(-5, 0))
@example(j=2, frac=0.5, bad=0)
def test_resolve_jobs_reads_a_whole_number_and_refuses_others(j, frac, bad):
    assert resolve_jobs(j, ['cpu']) == resolve_jobs(str(j), ['cpu']) == resolve_jobs(float(j), ['cpu']) == j
    assert resolve_jobs('auto', ['cpu']) == 1
    for b in (j + frac, True, False, bad, str(bad), 'two'):
        with pytest.raises(LTDartsError): resolve_jobs(b, ['cpu'])


@MANY
@given(room=st.lists(st.integers(0, 80), min_size=1, max_size=3), cpu=st.booleans(), mem=st.floats(0.5, 16), cores=st.integers(1, 32))
def test_auto_slots_follow_each_gpus_free_memory(room, cpu, mem, cores):
    "auto: free memory // mem_per_job cells per GPU (1 on another device), at most one per core in all, at least one."
    devs = [f'cuda:{i}' for i in range(len(room))] + (['cpu'] if cpu else [])
    free = {f'cuda:{i}': g * 2**30 for i, g in enumerate(room)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.cuda, 'mem_get_info', lambda d: (free[str(d)], 0)); mp.setattr(os, 'cpu_count', lambda: cores)
        total, s = resolve_jobs('auto', devs, mem), device_slots('auto', devs, mem)
    cap = {d: int(free[d] / 2**30 // mem) if d.startswith('cuda') else 1 for d in devs}
    assert total == max(1, min(sum(cap[d] for d in devs if d.startswith('cuda')), cores))
    assert sum(s.values()) == (min(total, sum(cap.values())) or 1)
    assert all(s[d] <= cap[d] for d in devs) or s == {**dict.fromkeys(devs, 0), devs[0]: 1}


def any_slot(slots): return any(slots.values())


@MANY
@given(slots=st.dictionaries(st.sampled_from(['cpu', 'cuda:0', 'cuda:1', 'mps']), st.integers(0, 4), min_size=1).filter(any_slot),
       n=st.integers(0, 20))
def test_spread_fills_free_slots_fewest_running_first(slots, n):
    r = spread(slots, n)
    assert sum(r.values()) == min(n, sum(slots.values())) and all(0 <= r[d] <= slots[d] for d in slots)
    free = [d for d in slots if r[d] < slots[d]]
    assert all(r[d] <= r[e] + 1 for d in r for e in free if slots[d] > 0)


@FEW
@given(slots=st.dictionaries(st.sampled_from(['cpu', 'mps', 'cuda:0']), st.integers(0, 3), min_size=2).filter(any_slot),
       n=st.integers(1, 10))
def test_device_pool_never_runs_more_cells_than_slots(slots, n):
    pool, lock = DevicePool(slots), threading.Lock()
    now, peak = dict.fromkeys(slots, 0), dict.fromkeys(slots, 0)
    def run(cell):
        with lock: now[cell.device] += 1; peak[cell.device] = max(peak[cell.device], now[cell.device])
        time.sleep(0.002)
        with lock: now[cell.device] -= 1
    cells = [SweepCell('ce', 10.0, i, f'cell{i}', 'cpu', ['--device', 'cpu'], None) for i in range(n)]
    ts = [threading.Thread(target=pool.run, args=(c, run)) for c in cells]
    for t in ts: t.start()
    for t in ts: t.join()
    assert all(peak[d] <= slots[d] for d in slots) and all(v == 0 for v in pool.running.values())


@MANY
@given(rc=st.integers(-31, 255).filter(bool))
def test_exit_error_names_a_signal_or_the_exit_code(scratch, rc):
    with scratch() as d:
        msg = exit_error(rc, d/'missing.log')
    assert msg.startswith('killed by signal') if rc < 0 or rc == 137 else msg == f'exit code {rc}'


@MANY
@given(pre=st.lists(st.text('abc xyz:.', max_size=20), max_size=5),
       msg=st.text('abc xyz=.,', min_size=1, max_size=30).filter(lambda m: m.strip() == m),
       cmd=st.sampled_from(['lt_darts_search', 'lt_darts_train']))
def test_error_line_finds_the_commands_error_or_the_exception(scratch, pre, msg, cmd):
    with scratch() as d:
        p = d/'log.txt'
        p.write_text('\n'.join(pre + [f'{cmd}: error: {msg}', 'bye']) + '\n')
        assert error_line(p) == f'{cmd}: error: {msg}'
        p.write_text('\n'.join(pre + ['Traceback (most recent call last):', '  File "x.py", line 1', 'ValueError: ' + msg]) + '\n')
        assert error_line(p) == 'ValueError: ' + msg


@MANY
@given(files=st.lists(st.sampled_from(['result.json', 'config.json', 'history.jsonl']), max_size=3, unique=True))
def test_stage_state_done_resume_or_new(scratch, files):
    with scratch() as d:
        for f in files: (d/f).write_text('{}')
        # a result without its config is no finished run (its command refuses the folder): 'resume', not 'done'
        assert stage_state(d) == ('done' if {'result.json', 'config.json'} <= set(files) else
                                  'resume' if {'result.json', 'config.json'} & set(files) else 'new')


option_values = st.one_of(st.integers(0, 3), st.floats(0, 3), st.text('xy', max_size=2))


@MANY
@given(saved=st.dictionaries(st.sampled_from(['a', 'b', 'c', 'device']), option_values),
       planned=st.dictionaries(st.sampled_from(['a', 'b', 'c', 'device']), option_values))
def test_config_diff_compares_numbers_by_value_and_ignores_the_device(saved, planned):
    d = config_diff(saved, planned)
    num = lambda v: isinstance(v, (int, float))
    for k, v in planned.items():
        same = float(saved[k]) == float(v) if k in saved and num(saved[k]) and num(v) else saved.get(k, v) == v
        assert (k in d) == (k in saved and k != 'device' and not same)
    assert set(d) <= set(planned)


@MANY
@given(data=st.data())
def test_sweep_stats_are_statistics_mean_and_sample_stdev(data):
    rows = [dict(imb_ratio=r['imb_ratio'], method=r['method'], variant='', seed=r['seed'], status='done' if r['finished'] else 'partial',
                 train_test_acc=r['test_acc']) for r in _rows(data.draw)]
    out = sweep_stats(rows, ('train_test_acc',))
    for g in out:
        v = [r['train_test_acc'] for r in rows
             if (r['imb_ratio'], r['method']) == (g['imb_ratio'], g['method']) and r['train_test_acc'] is not None]
        assert g['train_test_acc_n'] == len(v) == g['n']
        if v: assert math.isclose(g['train_test_acc_mean'], statistics.mean(v), rel_tol=1e-12, abs_tol=1e-15)
        if len(v) > 1: assert math.isclose(g['train_test_acc_std'], statistics.stdev(v), rel_tol=1e-9, abs_tol=1e-12)
    assert sum(g['seeds'] for g in out) == len(rows)


@SOME
@given(data=st.data())
def test_sweep_tables_hold_the_rows_and_statistics_exactly(scratch, data):
    with scratch() as d:
        rows = []
        for i in range(data.draw(st.integers(1, 8))):
            r = cell_row(d/f'c{i}', data.draw(st.sampled_from([10.0, 100.0])), data.draw(st.sampled_from(['ce', 'bbn'])),
                         data.draw(st.integers(0, 3)), train=True)
            done = data.draw(st.booleans())
            r.update(status='done' if done else 'partial', train_test_acc=data.draw(st.floats(0, 1)) if done else None,
                     search_test_acc=data.draw(st.one_of(st.none(), st.floats(0, 1))), search_skip_normal=data.draw(st.integers(0, 8)))
            rows.append(r)
        cells_csv, summary_csv, md = save_sweep_tables(d, rows)
        read_csv = lambda p: list(csv.DictReader(io.StringIO(p.read_text())))
        cells, summ, md = read_csv(cells_csv), read_csv(summary_csv), md.read_text()
    assert [c['status'] for c in cells] == [r['status'] for r in rows]
    for c, r in zip(cells, rows):
        for k in ('train_test_acc', 'search_test_acc'): assert (c[k] == '' and r[k] is None) or float(c[k]) == r[k]
    stats = sweep_stats(rows)
    assert len(summ) == len(stats)
    for s, g in zip(summ, stats):
        for m in default_metrics(rows):
            for k in ('mean', 'std'): assert (s[f'{m}_{k}'] == '' and g[f'{m}_{k}'] is None) or float(s[f'{m}_{k}']) == g[f'{m}_{k}']
            assert int(s[f'{m}_n']) == g[f'{m}_n']
    tbl = [l for l in md.split('## Cells')[0].splitlines() if l.startswith('|')]
    assert len(tbl) == 2 + len(stats) and len({l.count('|') for l in tbl}) == 1


@MANY
@given(methods=st.lists(st.sampled_from(list(METHODS)), min_size=1, max_size=3, unique=True),
       ratios=st.lists(st.floats(1, 1000), min_size=1, max_size=3, unique=True),
       seeds=st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True), jobs=st.one_of(st.just('auto'), st.integers(1, 8)),
       train=st.booleans())
def test_sweep_config_round_trips_through_json(methods, ratios, seeds, jobs, train):
    c = SweepConfig(root='x', methods=methods, ratios=ratios, seeds=seeds, jobs=jobs, train=train)
    assert SweepConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


# ---------------------------------------------------------------------------------------------------- files
names_st = st.text('abcXYZ019_.-', min_size=1, max_size=12).filter(lambda s: s not in ('.', '..'))


@MANY
@given(name=names_st, old=st.binary(max_size=50), new=st.binary(max_size=50), fail=st.booleans())
def test_atomic_write_replaces_the_file_only_on_success(scratch, name, old, new, fail):
    with scratch() as d:
        p = d/name; p.write_bytes(old)
        with contextlib.suppress(RuntimeError):
            with atomic_write(p) as f:
                f.write(new)
                if fail: raise RuntimeError('boom')
        assert p.read_bytes() == (old if fail else new) and os.listdir(d) == [name]      # no temporary file left


@SOME
@given(name=st.text('abc', min_size=1, max_size=5), text=st.text(max_size=20))
def test_saved_files_get_the_permissions_open_would_give(scratch, name, text):
    with scratch() as d:
        save_json(text, d/name)
        assert json.loads((d/name).read_text()) == text and (d/name).stat().st_mode & 0o777 == 0o666 & ~_umask()


@MANY
@given(name=names_st)
def test_remove_stale_tmp_removes_only_atomic_writes_left_by_a_kill(scratch, name):
    with scratch() as d:
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix='.tmp', dir=d); os.close(fd)       # what atomic_write leaves on a kill
        (d/name).write_text('x')
        assert [p.name for p in remove_stale_tmp(d)] == [Path(tmp).name] and os.listdir(d) == [name]


@MANY
@given(obj=st.recursive(st.one_of(st.integers(-2**62, 2**62), st.floats(allow_nan=False), st.text(max_size=5), st.booleans(), st.none()),
                        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=3), c, max_size=3)), max_leaves=8))
def test_checkpoint_round_trips(scratch, obj):
    with scratch() as d:
        save_checkpoint({'x': obj, 't': torch.arange(3)}, d/'c.pt')
        back = load_checkpoint(d/'c.pt')
    assert back['x'] == obj and torch.equal(back['t'], torch.arange(3))


@MANY
@given(depth=st.integers(1, 3), pre=st.booleans(), content=st.booleans(), fail=st.booleans())
def test_folder_lock_leaves_no_trace_of_a_refused_start(scratch, depth, pre, content, fail):
    with scratch() as d:
        f = d.joinpath(*[f'd{i}' for i in range(depth)])
        if pre:
            f.mkdir(parents=True)
            if content: (f/'mine.txt').write_text('x')
        before = sorted(os.listdir(f)) if pre else None
        with contextlib.suppress(KeyError):
            with folder_lock(f):
                assert (f/'.lock').exists()
                if fail: raise KeyError('refused')
        if fail: assert (sorted(os.listdir(f)) == before) if pre else not (d/'d0').exists()
        else:
            assert f.is_dir()
            with folder_lock(f): pass                                 # released


@MANY
@given(names=st.lists(st.text('abc', max_size=3), max_size=5), known=st.sets(st.text('abc', max_size=3), max_size=5))
def test_check_known_names_every_unknown_in_one_line(names, known):
    bad = [n for n in names if n not in known]
    if not bad:
        assert check_known(names, known, 'thing') is None; return
    with pytest.raises(LTDartsError) as e: check_known(names, known, 'thing')
    assert all(repr(b) in str(e.value) for b in bad) and '\n' not in str(e.value)
