#!/usr/bin/env bash
# Sets up psqe_pyg from scratch in ./.venv: CPU torch pinned by constraints.txt, the other dependencies,
# and the package itself, built with its compiled op library (no build isolation, so the build uses
# the pinned torch instead of pulling the newest one). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q -c constraints.txt torch==2.13.0
pip install -q -c constraints.txt scikit-build-core ninja cmake
pip install -q -c constraints.txt --no-build-isolation -e '.[full]'
python -c "import psqe_pyg.ops as o; assert o.WITH_EXTENSION, 'compiled op library not loaded'; print('psqe_pyg ready: compiled ops loaded')"
