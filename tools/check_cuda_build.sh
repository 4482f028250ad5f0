#!/usr/bin/env bash
# Build psqe_pyg with its CUDA kernels against the CUDA wheel of torch and check, without a GPU, that
# the library loads with WITH_CUDA and registers a CUDA kernel for every psqe op that csrc/cuda defines.
# What tools/check_cuda_compile.sh does not cover: the CMake configuration with a CUDA torch, the link,
# the dispatcher registration and the load of the .so.
#
#   tools/check_cuda_build.sh
#
# It works in a venv of its own, $PSQE_CUDA_VENV (default: .cache/cuda-venv, git-ignored), with
# torch==2.13.0 from the package index: the CUDA 13.0 build (527 MB; 2.6 GB with the nvidia-* runtime
# wheels it depends on), downloaded once to $PSQE_CUDA_WHEELS (default: .cache/cuda-wheels). This
# machine's pip configuration (/etc/pip.conf and $PIP_FIND_LINKS point at /opt/wheels, which holds
# torch-2.13.0+cpu, and that local version wins over the plain one) would install the CPU wheel instead,
# so every pip call here runs with PIP_CONFIG_FILE=/dev/null and --isolated (no configuration files, no
# PIP_* variables). The package is built with PSQE_WITH_CUDA=ON, --no-build-isolation, $CUDA_HOME/bin/nvcc
# and TORCH_CUDA_ARCH_LIST (default "9.0": H100/H200), in its own build folder (.cache/cuda-build), never
# touching ./.venv.
#
# Environment: PYTHON (for the venv, default python3), CUDA_HOME (default /usr/local/cuda, else the toolkit
# of the nvcc on PATH), TORCH_CUDA_ARCH_LIST, JOBS (parallel
# compiles, default 2).
# Time: 22 minutes on this repository's 2-core machine with JOBS=1 and the wheels cached (the compile
# dominates), 7 more for the first download; see README "CUDA build".
# Exit status: 0 when the check passes, 1 when it fails, 2 when nvcc is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${PSQE_CUDA_VENV:-$ROOT/.cache/cuda-venv}
WHEELS=${PSQE_CUDA_WHEELS:-$ROOT/.cache/cuda-wheels}
BUILD_DIR=$ROOT/.cache/cuda-build
PYTHON=${PYTHON:-python3}
JOBS=${JOBS:-2}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
TORCH_VERSION=2.13.0

# The toolkit: CUDA_HOME (default /usr/local/cuda, else the folder above the nvcc on PATH).
if [[ -z ${CUDA_HOME:-} ]]; then
  if [[ -x /usr/local/cuda/bin/nvcc ]]; then CUDA_HOME=/usr/local/cuda
  elif command -v nvcc >/dev/null 2>&1; then CUDA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
  else echo "check_cuda_build: nvcc not found (set CUDA_HOME=...)" >&2; exit 2; fi
fi
NVCC=$CUDA_HOME/bin/nvcc
[[ -x $NVCC ]] || { echo "check_cuda_build: no nvcc at $NVCC" >&2; exit 2; }

t0=$SECONDS
step() { echo "check_cuda_build: [$((SECONDS - t0)) s] $*"; }

# pip without this machine's configuration (see above).
vpip() { PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip --isolated --disable-pip-version-check "$@"; }

[[ -x $VENV/bin/python ]] || "$PYTHON" -m venv "$VENV"
step "venv $VENV ($("$VENV/bin/python" --version))"

# Runtime and build dependencies; torch from $WHEELS once downloaded, so a rerun needs no network
# for it. numpy/tqdm/torch-geometric are what `import psqe_pyg` needs.
DEPS=(scikit-build-core ninja cmake numpy tqdm torch-geometric)
if ! vpip install -q --no-index --find-links "$WHEELS" "torch==$TORCH_VERSION" 2>/dev/null; then
  step "downloading torch==$TORCH_VERSION (CUDA wheel) and its dependencies to $WHEELS"
  vpip download -q -d "$WHEELS" "torch==$TORCH_VERSION"
  vpip install -q --no-index --find-links "$WHEELS" "torch==$TORCH_VERSION"
fi
vpip install -q "${DEPS[@]}" "torch==$TORCH_VERSION"
TORCH_CUDA=$("$VENV/bin/python" -c 'import torch; print(torch.version.cuda or "")')
if [[ -z $TORCH_CUDA ]]; then
  echo "check_cuda_build: $VENV has a CPU-only torch ($("$VENV/bin/python" -c 'import torch; print(torch.__version__)')); remove it and rerun" >&2
  exit 1
fi
step "torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') (CUDA $TORCH_CUDA), $("$NVCC" --version | tail -n 1), arch $TORCH_CUDA_ARCH_LIST"

# torch's CMake config (FindCUDA) wants the CUDA libraries torch links (nvrtc above all) in the toolkit. A
# compiler-only toolkit lacks them; the nvidia-* wheels beside torch have them, without the unversioned
# names the linker looks for: give it those in a folder of links.
LIBS=$ROOT/.cache/cuda-libs
rm -rf "$LIBS" && mkdir -p "$LIBS"
for lib in "$VENV"/lib/python3*/site-packages/nvidia/*/lib/lib*.so.*; do
  base=$(basename "$lib")
  [[ -e $LIBS/${base%%.so.*}.so ]] || ln -s "$lib" "$LIBS/${base%%.so.*}.so"
done

step "building psqe_pyg with PSQE_WITH_CUDA=ON ($JOBS job(s))"
PSQE_WITH_CUDA=ON CUDACXX=$NVCC CMAKE_BUILD_PARALLEL_LEVEL=$JOBS \
  vpip install -q --no-build-isolation --no-deps --force-reinstall -C build-dir="$BUILD_DIR" \
  -C cmake.define.CMAKE_CUDA_COMPILER="$NVCC" -C cmake.define.CUDA_TOOLKIT_ROOT_DIR="$CUDA_HOME" \
  -C cmake.define.CMAKE_LIBRARY_PATH="$LIBS" "$ROOT"
step "built; checking the installed library"

# The ops csrc/cuda registers for CUDA: every one must be in the loaded library's dispatcher.
EXPECTED=$(sed -n '/TORCH_LIBRARY_IMPL(psqe, CUDA/,/^}/s/.*m\.impl("\([a-z_]*\)".*/\1/p' "$ROOT"/csrc/cuda/*.cu | sort -u | tr '\n' ' ')

# Import from outside the repository, so that the installed package (not ./psqe_pyg) is loaded.
cd "$(mktemp -d "${TMPDIR:-/tmp}/psqe_cuda_build.XXXXXX")"
EXPECTED=$EXPECTED "$VENV/bin/python" - <<'EOF'
import os
import sys

import torch

import psqe_pyg
from psqe_pyg import ops

expected = sorted(os.environ['EXPECTED'].split())
schemas = sorted(s.name[len('psqe::'):] for s in torch._C._jit_get_all_schemas() if s.name.startswith('psqe::'))
has = lambda op, key: torch._C._dispatch_has_kernel_for_dispatch_key(f'psqe::{op}', key)  # noqa: E731
cuda_ops = [op for op in schemas if has(op, 'CUDA')]
cpu_only = [op for op in schemas if has(op, 'CPU') and not has(op, 'CUDA')]
print(f'psqe_pyg from {os.path.dirname(psqe_pyg.__file__)}')
print(f'torch {torch.__version__}, CUDA available: {torch.cuda.is_available()} (not needed)')
print(f'psqe ops: {" ".join(schemas)}')
print(f'CPU kernels only: {" ".join(cpu_only) or "-"}')
errors = []
if not ops.WITH_EXTENSION:
    errors.append('the compiled library did not load')
if not ops.WITH_CUDA:
    errors.append('psqe::with_cuda() is False: the CUDA sources were not compiled in')
missing = [op for op in expected if op not in cuda_ops]
if missing:
    errors.append(f'csrc/cuda registers {missing} but the loaded library has no CUDA kernel for them')
if not expected:
    errors.append('found no TORCH_LIBRARY_IMPL(psqe, CUDA, m) registrations in csrc/cuda')
for e in errors:
    print(f'check_cuda_build: FAILED: {e}', file=sys.stderr)
print(f'WITH_CUDA {ops.WITH_CUDA}')
print(f'CUDA kernels: {" ".join(f"psqe::{op}" for op in cuda_ops)}')
sys.exit(1 if errors else 0)
EOF
