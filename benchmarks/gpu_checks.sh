#!/usr/bin/env bash
# The GPU checks of benchmarks/README.md ("A GPU session, in order": steps 1 and 2, and the profiles of step 3) in one
# command, for a machine held for a short time:
#
#     bash benchmarks/gpu_checks.sh OUT_DIR [--compile]
#
# Every step writes OUT_DIR/<step>.log (env.log: versions, GPU, the code's commit); the benchmarks also write OUT_DIR/step_equivalence_$GPU_TAG.json,
# OUT_DIR/search_step_$GPU_TAG.json, OUT_DIR/train_step_$GPU_TAG.json, OUT_DIR/supernet_$GPU_TAG.json and
# OUT_DIR/determinism_{default,deterministic}_$GPU_TAG.json (GPU_TAG: default h200). Copy what you keep
# into results/gpu_checks/, results/bench/, results/profile/ and results/determinism/. A failing step is reported and the next one runs; the exit status is that of the first failure.
# Needs a CUDA device, torch and fastcore, not nbdev (the notebooks' gpu cells run through tests/run_cells.py);
# PYTHON names the interpreter (default python3).
# --compile is passed to the two step benchmarks (adds torch.compile: minutes of compiling).
# GPU_STEPS (names of the steps below, comma-separated) runs only those, e.g. on a machine whose commands are cut short:
#     GPU_STEPS=env,step_equivalence,cells_step,cells_search bash benchmarks/gpu_checks.sh OUT_DIR
#     GPU_STEPS=bench_search_step,bench_train_step bash benchmarks/gpu_checks.sh OUT_DIR
set -u
out=${1:?usage: bash benchmarks/gpu_checks.sh OUT_DIR [--compile]}; shift
case $out in /*) ;; *) out=$PWD/$out ;; esac     # relative to where it is called from
tag=${GPU_TAG:-h200}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.." || exit 1
steps=$(grep -o '^step [a-z0-9_]*' benchmarks/gpu_checks.sh | cut -d' ' -f2 | xargs)
gs=${GPU_STEPS:-}; gs=$(echo ${gs//,/ })     # the names, one space apart
if [ -n "${GPU_STEPS+x}" ] && [ -z "$gs" ]; then echo "gpu_checks.sh: GPU_STEPS names no step: unset it to run them all, or choose among $steps" >&2; exit 2; fi
for s in $gs; do
  case " $steps " in *" $s "*) ;; *) echo "gpu_checks.sh: GPU_STEPS names no step '$s': choose among $steps" >&2; exit 2 ;; esac
done
"$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else "gpu_checks.sh: no CUDA device; these checks need a GPU")' || exit 1
mkdir -p "$out" || exit 1
export PYTHONUNBUFFERED=1
first=0; summary=()
only=,${gs// /,},
step() {
  local name=$1; shift
  if [ "$only" != ",," ] && [[ $only != *",$name,"* ]]; then return; fi
  echo "== $name: $*"
  local t=$SECONDS; "$@" > "$out/$name.log" 2>&1; local rc=$?
  echo "   exit $rc after $((SECONDS - t)) s"; tail -n 4 "$out/$name.log" | sed 's/^/   /'
  summary+=("$name=$rc"); if [ $rc -ne 0 ] && [ $first -eq 0 ]; then first=$rc; fi
}
step env "$py" -c 'import json; from lt_darts_nb.core import env_info; print(json.dumps(env_info("cuda"), indent=1))'   # commit: LT_DARTS_COMMIT on a copy without .git
step step_equivalence "$py" benchmarks/step_equivalence.py --device cuda --json "$out/step_equivalence_$tag.json"
step cells_step "$py" tests/run_cells.py nbs/07a_step.ipynb --flags gpu
step cells_search "$py" tests/run_cells.py nbs/08_search.ipynb --flags gpu
step bench_search_step "$py" benchmarks/bench_search_step.py --device cuda --steps 30 --warmup 5 --json "$out/search_step_$tag.json" "$@"
step bench_train_step "$py" benchmarks/bench_train_step.py --device cuda --steps 30 --warmup 5 --json "$out/train_step_$tag.json" "$@"
step bench_supernet "$py" benchmarks/bench_supernet.py --device cuda --steps 10 --warmup 2 --json "$out/supernet_$tag.json"
step profile_fp32 "$py" benchmarks/profile_search_step.py --device cuda --steps 5 --rows 14
step profile_fp32_cl "$py" benchmarks/profile_search_step.py --device cuda --steps 5 --rows 14 --channels_last
step profile_fp32_cl_batched "$py" benchmarks/profile_search_step.py --device cuda --steps 5 --rows 14 --channels_last --batch_edges
# the same search twice with one seed, in today's default step path (the stored results/determinism/ predates it)
step determinism_default "$py" benchmarks/determinism.py --device cuda --epochs 2 --max_steps 10 --json "$out/determinism_default_$tag.json"
step determinism_det "$py" benchmarks/determinism.py --device cuda --epochs 2 --max_steps 10 --deterministic --json "$out/determinism_deterministic_$tag.json"
echo "summary: ${summary[*]}"
exit $first
