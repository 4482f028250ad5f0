"""The helpers benchmarks/kernel_rates.py trusts before it records a time: the torch baseline and the check."""
import importlib
import sys
from pathlib import Path

import pytest
import torch

# benchmarks/ is on the path only for this import (its common.py is a generic name). The script is not
# called kernels.py: that would shadow the PyPI package 'kernels', which transformers (loaded by the MiniLM
# name encoder) imports when it finds it, so every benchmark run from benchmarks/ would fail to load MiniLM.
_BENCHMARKS = str(Path(__file__).resolve().parent.parent / 'benchmarks')
sys.path.insert(0, _BENCHMARKS)
try:
    kernels = importlib.import_module('kernel_rates')
finally:
    sys.path.remove(_BENCHMARKS)
    sys.modules.pop('kernel_rates', None)
    sys.modules.pop('common', None)


@pytest.mark.parametrize('n,m,k,chunk', [(37, 53, 5, 8), (20, 7, 10, 6), (64, 64, 1, 64)])
def test_torch_topk_matches_dense(n, m, k, chunk):
    x = kernels.unit_rows(n, 16, torch.float32, torch.device('cpu'), seed=1)
    y = kernels.unit_rows(m, 16, torch.float32, torch.device('cpu'), seed=2)
    scores = x @ y.T
    values, indices, col_v, col_i = kernels.torch_topk(x, y, k, chunk, col_best=True)
    want = scores.topk(min(k, m), dim=1)
    torch.testing.assert_close(values, want.values)
    assert torch.equal(indices, want.indices)
    torch.testing.assert_close(col_v, scores.max(dim=0).values)
    assert torch.equal(col_i, scores.argmax(dim=0))


def test_check_topk_is_zero_for_a_true_topk_and_flags_a_wrong_neighbour():
    x = kernels.unit_rows(30, 8, torch.float32, torch.device('cpu'), seed=3)
    y = kernels.unit_rows(40, 8, torch.float32, torch.device('cpu'), seed=4)
    indices = (x @ y.T).topk(4, dim=1).indices
    assert kernels.check_topk(x, y, indices, rows=30) == 0.0
    wrong = indices.clone()
    wrong[5, 0] = (x[5] @ y.T).argmin()  # the worst column instead of the best
    assert kernels.check_topk(x, y, wrong, rows=30) > 0.1
    assert kernels.check_topk(x, y, wrong, rows=5) == 0.0  # row 5 is outside the checked rows
