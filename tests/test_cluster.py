"""The sweep's cluster executors for real, not through the chapter's stand-ins: submitit's local cluster runs a tiny
grid as jobs (submitit is in the `dev` extra; skipped where it is not installed). Ray is left out: it takes longer to
start than the grid takes to run."""
import json
import pytest

submitit = pytest.importorskip('submitit')
from lt_darts_nb.search import SearchConfig, tiny_config
from lt_darts_nb.train import TrainConfig, tiny_train_config
from lt_darts_nb.sweep import TRAIN_RESERVED, run_sweep


def _opts() -> tuple:
    "The search and training options of the chapter's tiny grid (a one-epoch search and a one-epoch evaluation)."
    s = ' '.join(f'{k}={b}' for k, (a, b) in SearchConfig().diff(tiny_config(epochs=1)).items() if k != 'imb_ratio')
    t = ' '.join(f'{k}={b}' for k, (a, b) in TrainConfig().diff(tiny_train_config(epochs=1)).items() if k not in TRAIN_RESERVED)
    return s, t


@pytest.fixture
def grid(tmp_path, monkeypatch):
    "Options of a one-cell sweep under a relative root (the jobs must resolve it where the driver runs)."
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.chdir(tmp_path)
    s, t = _opts()
    return dict(root='grid', methods='ce', ratios='10', seeds='0', search_opts=s, train_opts=t, device='cpu',
                executor='submitit', cluster='cluster=local timeout_min=10', verbose=False)


def test_submitit_local_runs_and_skips(grid, tmp_path):
    rows = run_sweep(**grid)
    assert [(r['method'], r['status']) for r in rows] == [('ce', 'done')], rows
    cell = tmp_path/'grid'/'r10'/'ce'/'s0'
    assert (cell/'train'/'result.json').is_file()
    assert json.loads((cell/'status.json').read_text())['status'] == 'done'
    jobs = sorted((tmp_path/'grid'/'.submitit').glob('*/*_submitted.pkl'))
    assert len(jobs) == 1, jobs
    assert run_sweep(**grid)[0]['status'] == 'done'          # a relaunch skips the finished cell: no new job
    assert sorted((tmp_path/'grid'/'.submitit').glob('*/*_submitted.pkl')) == jobs


def test_submitit_failed_job_names_its_error(grid, tmp_path):
    (tmp_path/'grid'/'r10'/'ce').mkdir(parents=True)
    (tmp_path/'grid'/'r10'/'ce'/'s0').write_text('not a folder')   # the job cannot make its cell folder
    rows = run_sweep(**grid)
    assert rows[0]['status'] == 'failed', rows
    assert 'FileExistsError' in rows[0]['error'] and "the job's log: " in rows[0]['error'], rows[0]['error']


def test_submitit_bad_cluster_option(grid, tmp_path):
    from lt_darts_nb.core import LTDartsError
    with pytest.raises(LTDartsError, match="--cluster for submitit: Parameter 'timeout' need to be prefixed"):
        run_sweep(**{**grid, 'cluster': 'timeout=60'})
    assert not (tmp_path/'grid').exists()                    # refused before anything is written
