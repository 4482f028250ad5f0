#!/usr/bin/env bash
# The GPU check, in one call on a machine with a CUDA GPU (for the lent device machine: one H100, under
# 10 minutes). In order:
#   1. builds psqe_pyg with its CUDA kernels (PSQE_WITH_CUDA=ON, editable, no build isolation, no network)
#      into $PYTHON's environment and checks that psqe_pyg.ops.WITH_CUDA is True;
#   2. runs tests/test_ops_cuda.py (the CUDA kernels against the pure-torch reference) and the CUDA cases of
#      tests/test_ops_{sim_topk,kmeans,matching}.py;
#   3. runs the device-parity tests (tests/test_device.py::test_cpu_cuda_parity: the pipeline's seeds and
#      metrics on CUDA equal the CPU's), once as 'auto' picks (the torch path while the kernels are
#      unverified) and once with PSQE_PYG_CUDA_KERNELS=1 (the CUDA kernels inside the pipeline);
#   4. compute-sanitizer --tool memcheck on one small case per kernel (tools/cuda_memcheck_cases.py);
#   5. benchmarks/kernel_rates.py at N = 20k and 100k, and at 1M (bfloat16, k = 10) if the time left allows;
# and writes everything to OUT_DIR/gpu_check.json (per step: pass/fail, counts, seconds; the benchmark rows;
# the machine) with the full output in OUT_DIR/gpu_check.log.
#
#   tools/gpu_check.sh [OUT_DIR]      (default benchmarks/results; on the device machine: "$OUT")
#
# Environment: PYTHON (default python3: on the device machine, the one with a CUDA torch), TORCH_CUDA_ARCH_LIST
# (default 9.0), BUDGET_S (default 540): the steps share it (each also has a limit of its own), a step that
# would start with under 20 s left is skipped (and the check fails), and the 1M benchmark runs only if
# 150 s are left; the summary is always written.
# Exit status: 0 when every step passed, 1 when one failed, 2 when there is no GPU, nvcc or CUDA torch
# (nothing is run then, and no file is written).
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT_DIR=${1:-$ROOT/benchmarks/results}
PYTHON=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-540}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
T0=$SECONDS

no_gpu() { echo "gpu_check: no GPU: $*; nothing was run" >&2; exit 2; }
command -v nvidia-smi >/dev/null 2>&1 || no_gpu "nvidia-smi is not installed"
nvidia-smi -L 2>/dev/null | grep -q '^GPU ' || no_gpu "nvidia-smi lists no GPU"
command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]] || no_gpu "nvcc not found"
"$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
  || no_gpu "$PYTHON has no torch that sees a CUDA device"
export PATH=$PATH:/usr/local/cuda/bin
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null \
  || echo compute-sanitizer)

mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_check.log
WORK=$(mktemp -d "${TMPDIR:-/tmp}/psqe_gpu_check.XXXXXX")
: >"$LOG"
STEPS=$WORK/steps.tsv  # name, status (0 = passed), seconds, detail file
: >"$STEPS"
say() { echo "gpu_check: [$((SECONDS - T0)) s] $*" | tee -a "$LOG"; }

# run_step NAME DETAIL_FILE LIMIT_S COMMAND...: runs COMMAND with its output in the log, killed after LIMIT_S
# seconds or when BUDGET_S runs out (a step with under 20 s left is skipped), and records its status and time.
run_step() {
  local name=$1 detail=$2 limit=$3 t=$SECONDS status left=$((BUDGET_S - (SECONDS - T0)))
  shift 3
  if (( left < 20 )); then
    printf '%s\t%s\t0\t\n' "$name" skipped >>"$STEPS"
    say "$name: SKIPPED (the ${BUDGET_S} s budget is spent)"
    return 1
  fi
  (( limit > left )) && limit=$left
  say "$name: $*"
  timeout -k 10 "$limit" "$@" >>"$LOG" 2>&1
  status=$?
  [[ $status == 124 ]] && echo "gpu_check: $name ran past its ${limit} s limit" >>"$LOG"
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t))" "$detail" >>"$STEPS"
  say "$name: $([[ $status == 0 ]] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - t)) s"
  return "$status"
}

say "$(nvidia-smi -L | head -n 1) | $(nvcc --version | tail -n 1) | torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"

# 1. build
if run_step build "" 360 env PSQE_WITH_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
     "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation -C build-dir="$WORK/build" -e "$ROOT"; then
  run_step with_cuda "" 60 "$PYTHON" -c 'from psqe_pyg import ops; print("WITH_CUDA", ops.WITH_CUDA); assert ops.WITH_CUDA'
fi

PYTEST=("$PYTHON" -m pytest -q -p no:cacheprovider -o addopts=)
# 2. kernel tests; 3. pipeline parity (auto, then the CUDA kernels opted in)
run_step test_ops_cuda "$WORK/test_ops_cuda.xml" 240 "${PYTEST[@]}" tests/test_ops_cuda.py --junitxml="$WORK/test_ops_cuda.xml"
run_step test_ops_on_cuda "$WORK/test_ops_on_cuda.xml" 120 "${PYTEST[@]}" tests/test_ops_sim_topk.py \
  tests/test_ops_kmeans.py tests/test_ops_matching.py -k cuda --junitxml="$WORK/test_ops_on_cuda.xml"
run_step device_parity "$WORK/device_parity.xml" 180 "${PYTEST[@]}" tests/test_device.py -k parity \
  --junitxml="$WORK/device_parity.xml"
run_step device_parity_cuda_kernels "$WORK/device_parity_cuda_kernels.xml" 180 env PSQE_PYG_CUDA_KERNELS=1 \
  "${PYTEST[@]}" tests/test_device.py -k parity --junitxml="$WORK/device_parity_cuda_kernels.xml"

# 4. memcheck, one small case per kernel; separate allocations so an overrun leaves its block
for case in sim_topk kmeans greedy_match; do
  run_step "memcheck_$case" "" 180 env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$SANITIZER" --tool memcheck \
    --error-exitcode 1 --print-limit 20 "$PYTHON" tools/cuda_memcheck_cases.py "$case"
done

# 5. benchmarks (results land in benchmarks/results/<name>.json, then in gpu_check.json)
BENCH=("$PYTHON" benchmarks/kernel_rates.py --device cuda --dims 384 --no-faiss)
run_step bench_20k_100k "$ROOT/benchmarks/results/gpu_check_kernels.json" 240 "${BENCH[@]}" --sizes 20000 100000 \
  --ks 1 10 --dtypes bfloat16 float32 --kmeans-sizes 100000 --kmeans-ks 5 100 --name gpu_check_kernels
if (( SECONDS - T0 < BUDGET_S - 150 )); then
  run_step bench_1m "$ROOT/benchmarks/results/gpu_check_kernels_1m.json" 150 "${BENCH[@]}" --sizes 1000000 --ks 10 \
    --dtypes bfloat16 --chunks 4096 --repeats 1 --kmeans-sizes --name gpu_check_kernels_1m
else
  say "bench_1m: skipped ($((SECONDS - T0)) s used of the ${BUDGET_S} s budget)"
fi

# Summary: gpu_check.json (the benchmark files are folded into it)
trap 'rm -rf "$WORK" "$ROOT"/benchmarks/results/gpu_check_kernels*.json' EXIT
"$PYTHON" - "$STEPS" "$OUT_DIR/gpu_check.json" "$((SECONDS - T0))" <<'EOF' 2>&1 | tee -a "$LOG"
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

steps_file, out, wall = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
steps, tests, benchmarks = {}, {}, {}
for line in Path(steps_file).read_text().splitlines():
    name, status, seconds, detail = line.split('\t')
    steps[name] = {'passed': status == '0', 'exit': None if status == 'skipped' else int(status),
                   'skipped': status == 'skipped', 'seconds': int(seconds)}
    path = Path(detail) if detail else None
    if path and path.suffix == '.xml' and path.is_file():
        suites = ET.parse(path).getroot()
        suites = [suites] if suites.tag == 'testsuite' else list(suites)
        count = lambda key: sum(int(s.get(key, 0)) for s in suites)  # noqa: E731
        tests[name] = {'passed': count('tests') - count('failures') - count('errors') - count('skipped'),
                       'failed': count('failures'), 'errors': count('errors'), 'skipped': count('skipped')}
        if tests[name]['passed'] == 0:  # all skipped, e.g. no CUDA kernel registered: nothing was checked
            steps[name]['passed'] = False
    elif path and path.suffix == '.json' and path.is_file():
        benchmarks[name] = json.loads(path.read_text())


def output(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    except OSError as e:
        return f'({cmd[0]}: {e})'


smi = output('nvidia-smi', '--query-gpu=name,driver_version,memory.total', '--format=csv,noheader')
nvcc = output('nvcc', '--version').splitlines()[-1]
summary = {'check': 'tools/gpu_check.sh', 'passed': all(s['passed'] for s in steps.values()), 'wall_s': wall,
           'gpu': smi, 'nvcc': nvcc, 'torch': torch.__version__, 'steps': steps, 'tests': tests,
           'benchmarks': benchmarks}
out.write_text(json.dumps(summary, indent=2) + '\n')
width = max(map(len, steps))
for name, s in steps.items():
    extra = tests.get(name)
    print(f'{name:<{width}}  {"passed" if s["passed"] else "SKIPPED" if s["skipped"] else "FAILED":<7}  {s["seconds"]:>4} s'
          + (f'  ({extra["passed"]} passed, {extra["failed"]} failed, {extra["errors"]} errors, '
             f'{extra["skipped"]} skipped)' if extra else ''))
print(f'gpu_check: {"PASSED" if summary["passed"] else "FAILED"} in {wall} s; wrote {out}')
sys.exit(0 if summary['passed'] else 1)
EOF
