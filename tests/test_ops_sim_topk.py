"""sim_topk / mutual_nn: every backend and device against a dumb dense oracle and the torch reference."""
import pytest
import torch

from ops_cases import BACKENDS, DEVICES, needs, one_thread  # noqa: F401
from psqe_pyg import ops

need = needs('sim_topk')


def dense_oracle(x, y, k):
    """The full score matrix, stable-sorted: value descending, ties to the lower column; column best by a loop."""
    s = x.double() @ y.double().t()
    kk = min(k, y.size(0))
    v, i = s.sort(dim=1, descending=True, stable=True)
    rows = s.t().tolist()
    col_v, col_i = [], []
    for j in range(y.size(0)):
        best = None
        for r in range(x.size(0)):
            if best is None or rows[j][r] > rows[j][best]:
                best = r
        col_i.append(-1 if best is None else best)
        col_v.append(float('-inf') if best is None else rows[j][best])
    return v[:, :kk], i[:, :kk], torch.tensor(col_v, dtype=torch.float64), torch.tensor(col_i, dtype=torch.long)


def int_data(n, m, d, seed, lo=-2, hi=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(lo, hi, (n, d), generator=g).float()
    y = torch.randint(lo, hi, (m, d), generator=g).float()
    return x, y


# (N, M, d, k, tile_rows, tile_cols): ragged tails, tiny tiles, k > M, M = 1, k = M, empty sides.
SHAPES = [
    (37, 53, 8, 5, 4, 7),
    (50, 29, 5, 3, 1, 1),
    (10, 6, 3, 10, 3, 4),
    (100, 1, 4, 3, 0, 0),
    (1, 300, 5, 17, 1, 16),
    (64, 64, 16, 64, 0, 0),
    (257, 130, 6, 4, 0, 0),
    (0, 5, 3, 2, 0, 0),
    (5, 0, 3, 2, 0, 0),
]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('shape', SHAPES, ids=lambda s: 'x'.join(map(str, s)))
def test_exact_on_integer_inputs_with_ties(backend, device, shape):
    n, m, d, k, tr, tc = shape
    need(backend, device)
    x, y = int_data(n, m, d, seed=n * 1000 + m)
    ov, oi, ocv, oci = dense_oracle(x, y, k)
    out = ops.sim_topk(x.to(device), y.to(device), k, col_best=True, backend=backend, tile_rows=tr, tile_cols=tc)
    kk = min(k, m)
    assert out.values.shape == (n, kk) and out.indices.shape == (n, kk)
    assert out.values.dtype == torch.float32 and out.indices.dtype == torch.long
    assert torch.equal(out.indices.cpu(), oi)
    assert torch.equal(out.values.cpu().double(), ov)
    assert torch.equal(out.col_indices.cpu(), oci)
    assert torch.equal(out.col_values.cpu().double(), ocv)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_duplicated_rows_tie_to_lower_index(backend, device):
    need(backend, device)
    g = torch.Generator().manual_seed(0)
    base = torch.randint(-3, 4, (7, 4), generator=g).float()
    y = base[torch.tensor([3, 0, 3, 5, 0, 3, 6, 1, 2, 4, 3])]  # y rows 0, 2, 5, 10 identical, 1 and 4 too
    x = base[torch.tensor([3, 3, 0, 6])]  # x rows 0 and 1 identical
    out = ops.sim_topk(x.to(device), y.to(device), 6, col_best=True, backend=backend, tile_rows=1, tile_cols=2)
    _, oi, _, oci = dense_oracle(x, y, 6)
    assert torch.equal(out.indices.cpu(), oi)
    assert torch.equal(out.col_indices.cpu(), oci)
    for row in out.indices.cpu().tolist():
        dup = [j for j in row if j in (0, 2, 5, 10)]
        assert dup == sorted(dup)
    assert out.col_indices.cpu()[[0, 2, 5, 10]].tolist() == [0, 0, 0, 0]  # x rows 0 and 1 tie: row 0


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_random_inputs_match_oracle(backend, device, dtype):
    need(backend, device)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(203, 24, generator=g, dtype=dtype)
    y = torch.randn(171, 24, generator=g, dtype=dtype)
    k = 9
    out = ops.sim_topk(x.to(device), y.to(device), k, col_best=True, backend=backend, tile_rows=16, tile_cols=50)
    ov, oi, ocv, oci = dense_oracle(x, y, k)
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert out.values.dtype == dtype
    v, i = out.values.cpu().double(), out.indices.cpu()
    assert torch.allclose(v, ov, atol=tol)
    s = x.double() @ y.double().t()
    assert torch.allclose(s.gather(1, i), v, atol=tol)  # the values belong to the indices
    near_tie = (ov[:, :, None] - ov[:, None, :]).abs().lt(tol).sum(-1) > 1
    assert torch.equal(i[~near_tie], oi[~near_tie])
    assert torch.allclose(out.col_values.cpu().double(), ocv, atol=tol)
    assert (out.col_indices.cpu() == oci).float().mean() > 0.98


@pytest.mark.parametrize('threads', [1, 2, 3])
@pytest.mark.parametrize('device', DEVICES)
def test_cpp_equals_reference(device, threads):
    need('cpp', device)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(150, 32, generator=g), torch.randn(310, 32, generator=g)
    b = ops.sim_topk(x.to(device), y.to(device), 12, col_best=True, backend='torch', tile_rows=32, tile_cols=64)
    torch.set_num_threads(threads)  # several workers: exercises the column-side merge
    a = ops.sim_topk(x.to(device), y.to(device), 12, col_best=True, backend='cpp', tile_rows=32, tile_cols=64)
    assert torch.allclose(a.values, b.values, atol=1e-5)
    assert (a.indices == b.indices).float().mean() > 0.99
    assert (a.col_indices == b.col_indices).float().mean() > 0.99


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_inputs_are_scored_in_float32(backend, device, dtype):
    need(backend, device)
    x, y = int_data(40, 33, 6, seed=4)
    out = ops.sim_topk(x.to(device, dtype), y.to(device, dtype), 5, col_best=True, backend=backend,
                       tile_rows=8, tile_cols=8)
    ov, oi, _, oci = dense_oracle(x, y, 5)
    assert out.values.dtype == dtype
    assert torch.equal(out.indices.cpu(), oi)
    assert torch.equal(out.values.cpu().double(), ov)
    assert torch.equal(out.col_indices.cpu(), oci)


@pytest.mark.parametrize('backend', BACKENDS)
def test_non_contiguous_and_requires_grad_inputs(backend):
    need(backend, 'cpu')
    x, y = int_data(20, 30, 7, seed=5)
    xt = x.t().contiguous().t().requires_grad_()  # column-major view
    ys = torch.cat([y, y], 1)[:, ::2]  # strided
    out = ops.sim_topk(xt, ys, 4, backend=backend)
    _, oi, _, _ = dense_oracle(x, ys.contiguous(), 4)
    assert torch.equal(out.indices, oi)
    assert not out.values.requires_grad
    assert out.col_values is None and out.col_indices is None


@pytest.mark.parametrize('backend', BACKENDS)
def test_direct_op_without_col_best_returns_empty_tensors(backend):
    need(backend, 'cpu')
    if backend != 'cpp':
        pytest.skip('the op itself')
    x, y = int_data(5, 6, 3, seed=6)
    v, i, cv, ci = torch.ops.psqe.sim_topk(x, y, 2, 0, 0, False)
    assert v.shape == (5, 2) and cv.numel() == 0 and ci.numel() == 0 and ci.dtype == torch.long


def test_faiss_backend():
    pytest.importorskip('faiss')
    g = torch.Generator().manual_seed(7)
    x, y = torch.randn(80, 16, generator=g), torch.randn(120, 16, generator=g)
    out = ops.sim_topk(x, y, 5, col_best=True, backend='faiss')
    ov, oi, ocv, oci = dense_oracle(x, y, 5)
    assert torch.allclose(out.values.double(), ov, atol=1e-4)
    assert (out.indices == oi).float().mean() > 0.99
    assert torch.allclose(out.col_values.double(), ocv, atol=1e-4)
    assert (out.col_indices == oci).float().mean() > 0.99


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_mutual_nn_matches_loop(backend, device):
    need(backend, device)
    x, y = int_data(45, 38, 5, seed=8, lo=-3, hi=4)
    s = (x @ y.t()).tolist()
    expected = []
    for i in range(45):
        j = max(range(38), key=lambda jj: (s[i][jj], -jj))
        best_i = max(range(45), key=lambda ii: (s[ii][j], -ii))
        if best_i == i:
            expected.append((i, j, s[i][j]))
    out = ops.mutual_nn(x.to(device), y.to(device), backend=backend, tile_rows=4, tile_cols=5)
    got = list(zip(out.row.tolist(), out.col.tolist(), out.score.tolist()))
    assert got == expected


def test_mutual_nn_empty():
    out = ops.mutual_nn(torch.empty(0, 3), torch.randn(4, 3))
    assert out.row.numel() == 0 and out.col.numel() == 0


@pytest.mark.parametrize('backend', BACKENDS)
def test_input_errors_name_the_tensor(backend):
    need(backend, 'cpu')
    x, y = torch.randn(4, 3), torch.randn(5, 3)
    with pytest.raises(ValueError, match='x must be a 2-D'):
        ops.sim_topk(torch.randn(4), y, 2, backend=backend)
    with pytest.raises(ValueError, match='y must be a 2-D'):
        ops.sim_topk(x, torch.randn(5, 3, 1), 2, backend=backend)
    with pytest.raises(TypeError, match='x must be a floating'):
        ops.sim_topk(torch.ones(4, 3, dtype=torch.long), y, 2, backend=backend)
    with pytest.raises(ValueError, match='feature dimension'):
        ops.sim_topk(x, torch.randn(5, 4), 2, backend=backend)
    with pytest.raises(TypeError, match='same dtype'):
        ops.sim_topk(x, y.double(), 2, backend=backend)
    with pytest.raises(ValueError, match='k must be >= 1'):
        ops.sim_topk(x, y, 0, backend=backend)
    bad = y.clone()
    bad[2, 1] = float('nan')
    with pytest.raises(ValueError, match='y contains NaN'):
        ops.sim_topk(x, bad, 2, backend=backend)
    with pytest.raises(ValueError, match='backend'):
        ops.sim_topk(x, y, 2, backend='nope')


@pytest.mark.skipif(not ops.WITH_EXTENSION, reason='compiled extension not built')
def test_op_level_checks_name_the_tensor():
    x, y = torch.randn(4, 3), torch.randn(5, 3)
    with pytest.raises(RuntimeError, match='sim_topk: x must be a 2-D'):
        torch.ops.psqe.sim_topk(torch.randn(4), y, 2, 0, 0, False)
    with pytest.raises(RuntimeError, match='sim_topk: y must be a floating'):
        torch.ops.psqe.sim_topk(x, torch.ones(5, 3, dtype=torch.int32), 2, 0, 0, False)
    with pytest.raises(RuntimeError, match='same feature dimension'):
        torch.ops.psqe.sim_topk(x, torch.randn(5, 2), 2, 0, 0, False)
    with pytest.raises(RuntimeError, match='k must be >= 1'):
        torch.ops.psqe.sim_topk(x, y, 0, 0, 0, False)


def test_cpp_backend_unavailable_raises(monkeypatch):
    import psqe_pyg.ops._backend as backend_mod
    monkeypatch.setattr(backend_mod, 'WITH_EXTENSION', False)
    with pytest.raises(RuntimeError, match="backend='cpp'"):
        ops.sim_topk(torch.randn(3, 2), torch.randn(3, 2), 1, backend='cpp')
    out = ops.sim_topk(torch.randn(3, 2), torch.randn(3, 2), 1)  # auto falls back to torch
    assert out.indices.shape == (3, 1)
