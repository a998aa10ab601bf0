#!/usr/bin/env bash
# Run a grid of lt_darts_nb searches side by side on one GPU (the package's own CLI), resumable.
# Superseded by `lt_darts_sweep` (nbs/14_sweep.ipynb); kept as the record of how results/cifar10_lt_partial_r100 was made.
# Usage: bash results/run_grid.sh OUT_ROOT "METHODS" "RATIOS" "SEEDS" [extra lt_darts_search options...]
# Example (the ratio-100 reproduction): bash results/run_grid.sh runs/grid "ce rs rw bbn bbn_alr" "100" "0" --device cuda
# Each run writes OUT_ROOT/r<ratio>/<method>/s<seed>/ and a log beside it; re-running resumes killed runs and skips
# finished ones (their result.json exists). Needs LT_DARTS_DATA to point to the CIFAR data.
set -u
out=$1; methods=$2; ratios=$3; seeds=$4; shift 4
py=${PYTHON:-python3}
pids=()
for r in $ratios; do for m in $methods; do for s in $seeds; do
  d="$out/r$r/$m/s$s"; mkdir -p "$(dirname "$d")"
  if [ -f "$d/result.json" ] && [ "$(python3 -c "import json;print(json.load(open('$d/result.json'))['epochs_run'])")" = "$(python3 -c "import json;print(json.load(open('$d/config.json'))['epochs'])")" ]; then
    echo "skip finished $d"; continue; fi
  TQDM_MININTERVAL=30 $py -m lt_darts_nb.cli --dataset cifar10 --imb_ratio "$r" --method "$m" --seed "$s" \
      --out "$d" --resume "$@" > "$d.log" 2>&1 &
  pids+=($!)
  echo "started $d (pid $!)"
done; done; done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
