"""kmeans: k-means++ seeding and Lloyd iterations, every backend and device against dumb oracles."""
import math

import pytest
import torch

from ops_cases import BACKENDS, DEVICES, needs, one_thread  # noqa: F401
from psqe_pyg import ops
from psqe_pyg.ops import reference

need = needs('kmeans_pp_init', 'kmeans_lloyd')


def blobs(n, d, centers, seed, dtype=torch.float32, spread=0.3):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(centers, d, generator=g, dtype=torch.float64) * 4
    lab = torch.randint(0, centers, (n,), generator=g)
    return (c[lab] + spread * torch.randn(n, d, generator=g, dtype=torch.float64)).to(dtype)


def pp_oracle(x, uniforms):
    """k-means++ by the letter of the contract: Python floats, one row at a time."""
    rows = x.double().tolist()
    n = len(rows)
    chosen = []
    dist = [math.inf] * n
    for t, u in enumerate(uniforms.tolist()):
        if t == 0:
            c = min(math.floor(u * n), n - 1)
        else:
            total = 0.0
            for v in dist:
                total += v
            if not total > 0:
                c = min(math.floor(u * n), n - 1)
            else:
                cum, c = 0.0, None
                for i, v in enumerate(dist):
                    cum += v
                    if cum > u * total:
                        c = i
                        break
                if c is None:
                    c = max(i for i in range(n) if dist[i] > 0)
        chosen.append(c)
        for i in range(n):
            dist[i] = min(dist[i], sum((a - b) ** 2 for a, b in zip(rows[i], rows[c])))
    return chosen


def lloyd_oracle(x, c, iters, tol):
    """Lloyd by the letter of the contract, dense (the full N x k score matrix)."""
    k = c.size(0)
    c = c.clone()

    def assign(c):
        s = (c * c).sum(1)[None, :] - 2 * (x @ c.t())
        return torch.tensor([min(range(k), key=lambda j: (row[j], j)) for row in s.tolist()])

    for _ in range(iters):
        a = assign(c)
        new = c.clone()
        shift = 0.0
        for j in range(k):
            members = x[a == j].double()
            if members.size(0) > 0:
                new[j] = members.sum(0).div(members.size(0)).to(x.dtype)
            shift = max(shift, float((new[j].double() - c[j].double()).pow(2).sum()))
        c = new
        if shift <= tol:
            break
    a = assign(c)
    inertia = float((x.double() - c.double()[a]).pow(2).sum())
    return c, a, inertia


def run_pp(backend, x, u):
    return torch.ops.psqe.kmeans_pp_init(x, u) if backend == 'cpp' else reference.kmeans_pp_init(x, u)


def run_lloyd(backend, x, c, iters, tol):
    if backend == 'cpp':
        return torch.ops.psqe.kmeans_lloyd(x, c, iters, tol)
    return reference.kmeans_lloyd(x, c, iters, tol)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_pp_init_matches_oracle(backend, device, dtype):
    need(backend, device)
    x = blobs(120, 5, 4, seed=1, dtype=dtype)
    for seed in range(3):
        u = ops.kmeans_uniforms(7, seed)
        got = run_pp(backend, x.to(device), u.to(device)).cpu().tolist()
        assert got == pp_oracle(x, u)
        assert len(set(got)) == 7  # distinct points are never drawn twice


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_pp_init_with_duplicates_and_all_equal_rows(backend, device):
    need(backend, device)
    x = torch.tensor([[1.0, 2.0]] * 5 + [[3.0, 0.0]] * 3)
    u = torch.tensor([0.1, 0.5, 0.9, 0.0, 0.999], dtype=torch.float64)
    got = run_pp(backend, x.to(device), u.to(device)).cpu().tolist()
    assert got == pp_oracle(x, u)
    same = torch.ones(6, 3)
    u = torch.tensor([0.4, 0.7, 0.2], dtype=torch.float64)
    assert run_pp(backend, same.to(device), u.to(device)).cpu().tolist() == pp_oracle(same, u)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_lloyd_matches_oracle(backend, device, dtype):
    need(backend, device)
    x = blobs(300, 6, 5, seed=2, dtype=dtype, spread=1.5)
    c0 = x[torch.tensor([0, 1, 2, 3, 4])]
    for iters, tol in [(0, -1.0), (1, -1.0), (4, -1.0), (50, 1e-6)]:
        oc, oa, oi = lloyd_oracle(x, c0, iters, tol)
        c, a, inertia = run_lloyd(backend, x.to(device), c0.to(device), iters, tol)
        assert torch.equal(a.cpu(), oa)
        assert torch.allclose(c.cpu(), oc, rtol=1e-6, atol=1e-6)
        assert c.dtype == dtype
        assert inertia == pytest.approx(oi, rel=1e-9)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_lloyd_ties_and_empty_clusters(backend, device):
    need(backend, device)
    # Equidistant centroids: the lower id wins. A far centroid gets no rows and stays put.
    x = torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    c0 = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [100.0, 100.0]])
    c, a, inertia = run_lloyd(backend, x.to(device), c0.to(device), 0, -1.0)
    assert a.cpu().tolist() == [0, 0, 0]
    c, a, inertia = run_lloyd(backend, x.to(device), c0.to(device), 3, -1.0)
    assert torch.equal(c.cpu()[1:], c0[1:])  # clusters 1 and 2 stay empty
    assert torch.allclose(c.cpu()[0], torch.tensor([2 / 3, 0.0]))
    # Duplicate centroids: all rows go to the first copy.
    c, a, _ = run_lloyd(backend, x.to(device), torch.tensor([[0.5, 0.0], [0.5, 0.0]]).to(device), 0, -1.0)
    assert a.cpu().tolist() == [0, 0, 0]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_same_seed_same_result(backend, device):
    need(backend, device)
    x = blobs(400, 8, 6, seed=3).to(device)
    a = ops.kmeans(x, 6, iters=20, seed=11, backend=backend)
    b = ops.kmeans(x, 6, iters=20, seed=11, backend=backend)
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.assignment, b.assignment)
    assert a.inertia == b.inertia
    c = ops.kmeans(x, 6, iters=20, seed=12, backend=backend)
    assert a.centroids.shape == c.centroids.shape == (6, 8)
    assert a.assignment.shape == (400,) and a.assignment.dtype == torch.long


@pytest.mark.parametrize('device', DEVICES)
def test_compiled_equals_reference(device):
    need('cpp', device)
    x = blobs(500, 10, 7, seed=4, spread=1.0).to(device)
    for seed in (0, 1, 2):
        a = ops.kmeans(x, 7, iters=30, seed=seed, backend='cpp')
        b = ops.kmeans(x, 7, iters=30, seed=seed, backend='torch')
        assert torch.equal(a.assignment, b.assignment)
        assert torch.allclose(a.centroids, b.centroids, rtol=1e-6, atol=1e-6)
        assert a.inertia == pytest.approx(b.inertia, rel=1e-9)


def test_compiled_is_thread_count_independent():
    need('cpp', 'cpu')
    x = blobs(3000, 16, 5, seed=5, spread=2.0)
    torch.set_num_threads(1)
    a = ops.kmeans(x, 5, iters=10, seed=3, backend='cpp')
    torch.set_num_threads(2)
    b = ops.kmeans(x, 5, iters=10, seed=3, backend='cpp')
    assert torch.equal(a.assignment, b.assignment) and torch.equal(a.centroids, b.centroids)
    assert a.inertia == b.inertia


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_inertia_never_increases(backend, device):
    need(backend, device)
    x = blobs(250, 4, 8, seed=6, spread=2.0).to(device)
    values = [ops.kmeans(x, 5, iters=t, seed=9, tol=-1.0, backend=backend).inertia for t in range(8)]
    for before, after in zip(values, values[1:]):
        assert after <= before * (1 + 1e-9)
    assert values[-1] < values[0]


@pytest.mark.parametrize('backend', BACKENDS)
def test_edge_cases(backend):
    need(backend, 'cpu')
    x = blobs(30, 3, 3, seed=7)
    one = ops.kmeans(x, 1, iters=5, seed=0, backend=backend)
    assert torch.allclose(one.centroids[0], x.double().mean(0).float(), atol=1e-6)
    assert one.assignment.tolist() == [0] * 30
    every = ops.kmeans(x, 30, iters=5, seed=0, backend=backend)
    assert sorted(every.assignment.tolist()) == list(range(30)) and every.inertia == 0.0
    half = ops.kmeans(x.half(), 3, iters=5, seed=0, backend=backend)
    assert half.centroids.dtype == torch.float32
    # A huge tol stops after the first update.
    assert torch.equal(ops.kmeans(x, 3, iters=50, seed=0, tol=1e9, backend=backend).centroids,
                       ops.kmeans(x, 3, iters=1, seed=0, backend=backend).centroids)


def test_faiss_backend_is_seeded():
    pytest.importorskip('faiss')
    x = blobs(600, 8, 4, seed=8)
    a = ops.kmeans(x, 4, iters=10, seed=1, backend='faiss')
    b = ops.kmeans(x, 4, iters=10, seed=1, backend='faiss')
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.assignment, b.assignment)
    ours = ops.kmeans(x, 4, iters=10, seed=1)
    assert a.inertia <= 1.5 * ours.inertia and ours.inertia <= 1.5 * a.inertia


@pytest.mark.parametrize('backend', BACKENDS)
def test_input_errors(backend):
    need(backend, 'cpu')
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match='k = 11 clusters exceeds'):
        ops.kmeans(x, 11, backend=backend)
    with pytest.raises(ValueError, match='k must be >= 1'):
        ops.kmeans(x, 0, backend=backend)
    with pytest.raises(ValueError, match='x must be a 2-D'):
        ops.kmeans(torch.randn(10), 2, backend=backend)
    with pytest.raises(TypeError, match='x must be a floating'):
        ops.kmeans(torch.ones(10, 3, dtype=torch.long), 2, backend=backend)
    bad = x.clone()
    bad[3, 0] = float('nan')
    with pytest.raises(ValueError, match='x contains NaN'):
        ops.kmeans(bad, 2, backend=backend)
    with pytest.raises(ValueError, match='iters'):
        ops.kmeans(x, 2, iters=-1, backend=backend)


@pytest.mark.skipif(not ops.WITH_EXTENSION, reason='compiled extension not built')
def test_op_level_checks():
    x = torch.randn(10, 3)
    with pytest.raises(RuntimeError, match='exceeds the number of rows of x'):
        torch.ops.psqe.kmeans_pp_init(x, torch.rand(11, dtype=torch.float64))
    with pytest.raises(RuntimeError, match='uniforms must be float64'):
        torch.ops.psqe.kmeans_pp_init(x, torch.rand(3))
    with pytest.raises(RuntimeError, match='centroids must have x'):
        torch.ops.psqe.kmeans_lloyd(x, torch.randn(2, 3, dtype=torch.float64), 3, 0.0)
    with pytest.raises(RuntimeError, match='same feature dimension'):
        torch.ops.psqe.kmeans_lloyd(x, torch.randn(2, 4), 3, 0.0)
    with pytest.raises(RuntimeError, match='iters must be >= 0'):
        torch.ops.psqe.kmeans_lloyd(x, torch.randn(2, 3), -1, 0.0)
