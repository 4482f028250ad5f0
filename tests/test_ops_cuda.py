"""The CUDA kernels (csrc/cuda/*.cu) against the pure-torch reference (``backend='torch'`` on CPU).

UNVERIFIED: written without a GPU; every test here skips when torch.cuda is unavailable. They target
the CUDA-specific code paths: the fused sim_topk kernel (fp32 FMA and fp16/bf16 WMMA tiles, 64 x 64,
ragged tails, column splits when N is small, k up to 32) and its unfused fallback (k > 32, float64,
caller tile shapes); k-means++ on device and the fused Lloyd assignment (several centroid tiles,
shared-memory and global accumulation); greedy_match rounds, the sequential finisher, sparse ids.

Outputs cannot be pre-filled (the ops allocate them), so ``poison_allocator`` leaves 0xFF bytes
(float NaN, int64 -1) in the caching allocator's free blocks first: an output element a kernel
forgets to write then shows up as NaN or -1 instead of a plausible stale value.
"""
import math

import pytest
import torch

from psqe_pyg import ops
from psqe_pyg.ops import reference
from psqe_pyg.ops._backend import has_kernel

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason='no CUDA device: the CUDA kernels are checked on a GPU machine')

CUDA = torch.device('cuda')


def need(op: str) -> None:
    if not has_kernel(op, CUDA):
        pytest.skip(f'psqe_pyg/_C has no CUDA kernel for {op} (extension loaded: {ops.WITH_EXTENSION}, '
                    f'built with CUDA: {ops.WITH_CUDA})')


def poison_allocator() -> None:
    """Fill freed blocks of both allocator pools with 0xFF bytes (NaN as float, -1 as int64)."""
    big = torch.full((16 << 20,), -1, dtype=torch.int32, device=CUDA)  # 64 MiB, large pool
    small = [torch.full((1 << 16,), -1, dtype=torch.int32, device=CUDA) for _ in range(16)]  # 256 KiB each
    del big, small
    torch.cuda.synchronize()


def int_data(n, m, d, seed, lo=-2, hi=3, dtype=torch.float32):
    """Small integers: every product and sum is exact in fp16/bf16/fp32 up to d * 4 < 2048, so any
    summation order gives bitwise the reference's scores, and ties are frequent."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(lo, hi, (n, d), generator=g).to(dtype)
    y = torch.randint(lo, hi, (m, d), generator=g).to(dtype)
    return x, y


def cuda_sim_topk(x, y, k, col_best=True, tile_rows=0, tile_cols=0):
    poison_allocator()
    out = torch.ops.psqe.sim_topk(x.to(CUDA), y.to(CUDA), k, tile_rows, tile_cols, col_best)
    torch.cuda.synchronize()
    return [t.cpu() for t in out]


def ref_sim_topk(x, y, k, col_best=True):
    out = ops.sim_topk(x, y, k, col_best=col_best, backend='torch')
    cv = out.col_values if col_best else torch.empty(0, dtype=x.dtype)
    ci = out.col_indices if col_best else torch.empty(0, dtype=torch.long)
    return out.values, out.indices, cv, ci


def assert_valid_topk(v, i, cv, ci, n, m, kk, col_best=True):
    assert v.shape == (n, kk) and i.shape == (n, kk) and i.dtype == torch.long
    assert not torch.isnan(v.float()).any(), 'NaN escaped into values (an unwritten output?)'
    if i.numel():
        assert int(i.min()) >= 0 and int(i.max()) < m, 'index out of range (an unwritten output?)'
        srt = i.sort(dim=1).values
        assert not (srt[:, 1:] == srt[:, :-1]).any(), 'a column listed twice in one row'
    if col_best:
        assert cv.shape == (m,) and ci.shape == (m,)
        if n > 0 and m > 0:
            assert not torch.isnan(cv.float()).any()
            assert int(ci.min()) >= 0 and int(ci.max()) < n


# --------------------------------------------------------------------------------------------
# sim_topk

# (N, M, d, k): ragged tails around the 64 x 64 tile, d around the 16/32 chunk, k > M, k = 32
# (largest fused), k = 33 (unfused), N < 64 with M large (column splits + merge kernel), one row /
# one column, M <= 64 (one column tile: one split) and N large (one split, several column tiles).
SIM_SHAPES = [
    (64, 64, 32, 5),
    (65, 63, 33, 8),
    (130, 200, 7, 32),
    (130, 200, 7, 33),
    (10, 6, 3, 10),
    (1, 1, 1, 1),
    (1, 5000, 16, 20),
    (70, 3000, 24, 3),
    (300, 1, 5, 4),
    (257, 129, 130, 1),
    (33, 700, 48, 100),
    (40000, 300, 8, 5),  # >= 4 blocks per SM of row strips: one split, outputs written by the tile kernel
]


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize('shape', SIM_SHAPES, ids=lambda s: 'x'.join(map(str, s)))
def test_sim_topk_exact_on_integer_inputs(shape, dtype):
    need('sim_topk')
    n, m, d, k = shape
    x, y = int_data(n, m, d, seed=n * 7919 + m, dtype=dtype)
    v, i, cv, ci = cuda_sim_topk(x, y, k)
    rv, ri, rcv, rci = ref_sim_topk(x, y, k)
    kk = min(k, m)
    assert_valid_topk(v, i, cv, ci, n, m, kk)
    assert v.dtype == dtype and cv.dtype == dtype
    assert torch.equal(i, ri)
    assert torch.equal(v, rv)
    assert torch.equal(ci, rci)
    assert torch.equal(cv, rcv)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
def test_sim_topk_all_ties_pick_lowest_indices(dtype):
    """Identical rows everywhere: every score ties, so the lists are 0..kk-1 and every column's best row is 0."""
    need('sim_topk')
    x = torch.ones(150, 9, dtype=dtype)
    y = torch.ones(300, 9, dtype=dtype)
    for k in (1, 7, 32, 40):
        v, i, cv, ci = cuda_sim_topk(x, y, k)
        assert torch.equal(i, torch.arange(k).expand(150, k))
        assert torch.equal(ci, torch.zeros(300, dtype=torch.long))
        assert bool((v.float() == 9).all()) and bool((cv.float() == 9).all())


def test_sim_topk_zero_dim_features():
    need('sim_topk')
    x, y = torch.empty(70, 0), torch.empty(90, 0)
    v, i, cv, ci = cuda_sim_topk(x, y, 5)
    rv, ri, rcv, rci = reference.sim_topk(x, y, 5, 0, 0, True)
    assert torch.equal(i, ri) and torch.equal(v, rv) and torch.equal(ci, rci) and torch.equal(cv, rcv)


@pytest.mark.parametrize('n,m', [(0, 5), (5, 0), (0, 0)])
def test_sim_topk_empty_sides(n, m):
    need('sim_topk')
    x, y = torch.randn(n, 4), torch.randn(m, 4)
    v, i, cv, ci = cuda_sim_topk(x, y, 3)
    rv, ri, rcv, rci = reference.sim_topk(x, y, 3, 0, 0, True)
    assert v.shape == rv.shape and i.shape == ri.shape
    assert torch.equal(ci, rci) and torch.equal(cv, rcv)


def test_sim_topk_without_col_best_returns_empty_tensors():
    need('sim_topk')
    x, y = int_data(80, 90, 10, seed=3)
    v, i, cv, ci = cuda_sim_topk(x, y, 4, col_best=False)
    _, ri, _, _ = ref_sim_topk(x, y, 4, col_best=False)
    assert torch.equal(i, ri)
    assert cv.numel() == 0 and ci.numel() == 0 and ci.dtype == torch.long and cv.dtype == x.dtype


@pytest.mark.parametrize('tiles', [(1, 1), (3, 5), (64, 100), (1000, 7)])
def test_sim_topk_unfused_path_honours_tile_shapes(tiles):
    """k > 32 and float64 take the unfused path, which tiles by (tile_rows, tile_cols)."""
    need('sim_topk')
    x, y = int_data(45, 77, 6, seed=11)
    for dtype, k in ((torch.float32, 40), (torch.float64, 3), (torch.float16, 50)):
        xd, yd = x.to(dtype), y.to(dtype)
        v, i, cv, ci = cuda_sim_topk(xd, yd, k, tile_rows=tiles[0], tile_cols=tiles[1])
        rv, ri, rcv, rci = ref_sim_topk(xd, yd, k)
        assert torch.equal(i, ri) and torch.equal(v, rv) and torch.equal(ci, rci) and torch.equal(cv, rcv)


@pytest.mark.parametrize('dtype,rtol', [(torch.float32, 1e-5), (torch.float16, 2e-3), (torch.bfloat16, 1e-2),
                                        (torch.float64, 1e-12)])
@pytest.mark.parametrize('shape', [(500, 700, 64, 10), (3, 9000, 40, 32), (257, 1000, 300, 1), (100, 400, 17, 64)],
                         ids=lambda s: 'x'.join(map(str, s)))
def test_sim_topk_random_inputs_match_reference_up_to_near_ties(shape, dtype, rtol):
    """Continuous scores: values agree to rounding; an index may differ only where its exact score
    ties the reference's within that rounding."""
    need('sim_topk')
    n, m, d, k = shape
    g = torch.Generator().manual_seed(n + m + d)
    x = torch.randn(n, d, generator=g).to(dtype)
    y = torch.randn(m, d, generator=g).to(dtype)
    v, i, cv, ci = cuda_sim_topk(x, y, k)
    rv, ri, rcv, rci = ref_sim_topk(x, y, k)
    kk = min(k, m)
    assert_valid_topk(v, i, cv, ci, n, m, kk)
    s = x.double() @ y.double().t()  # the inputs are exact in float64
    tol = rtol * d ** 0.5 * 4 + 1e-6  # |score| ~ sqrt(d) for unit normals
    assert torch.allclose(v.double(), rv.double(), rtol=0, atol=tol)
    assert torch.allclose(s.gather(1, i), v.double(), rtol=0, atol=tol)  # each value belongs to its index
    diff = i != ri
    assert bool(((s.gather(1, i) - s.gather(1, ri)).abs()[diff] <= 2 * tol).all())
    assert torch.allclose(cv.double(), rcv.double(), rtol=0, atol=tol)
    cdiff = ci != rci
    sc = s.t()
    assert bool(((sc.gather(1, ci[:, None]) - sc.gather(1, rci[:, None])).abs()[cdiff[:, None]] <= 2 * tol).all())


def test_sim_topk_non_contiguous_inputs_and_side_stream():
    need('sim_topk')
    x, y = int_data(90, 140, 12, seed=21)
    ref = cuda_sim_topk(x, y, 6)
    xc = x.to(CUDA).t().contiguous().t()  # column-major
    yc = torch.stack([y, y], 2).to(CUDA)[:, :, 0]  # strided view equal to y
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        out = torch.ops.psqe.sim_topk(xc, yc, 6, 0, 0, True)
    stream.synchronize()
    for a, b in zip(out, ref):
        assert torch.equal(a.cpu(), b)


def test_sim_topk_nan_scores_never_produce_invalid_indices():
    """NaN inputs are rejected by the wrapper; through the raw op the CUDA kernel ranks NaN as -inf."""
    need('sim_topk')
    x, y = int_data(70, 80, 5, seed=5)
    x[3] = float('nan')
    y[7] = float('nan')
    for k in (4, 40):  # fused, unfused
        v, i, cv, ci = cuda_sim_topk(x, y, k)
        assert int(i.min()) >= 0 and int(i.max()) < 80 and int(ci.min()) >= 0 and int(ci.max()) < 70
        others = torch.arange(70) != 3  # row 3 is all NaN: its list is 0..kk-1
        assert not bool((i[others] == 7).any())  # the NaN column ranks last
        assert torch.equal(i[3], torch.arange(k))
        assert not torch.isnan(v).any()


def test_sim_topk_wrapper_and_mutual_nn_on_cuda():
    need('sim_topk')
    x, y = int_data(120, 90, 5, seed=8, lo=-3, hi=4)
    a = ops.sim_topk(x.to(CUDA), y.to(CUDA), 3, col_best=True, backend='cpp')
    b = ops.sim_topk(x, y, 3, col_best=True, backend='torch')
    assert a.values.device.type == 'cuda'
    assert torch.equal(a.indices.cpu(), b.indices) and torch.equal(a.col_indices.cpu(), b.col_indices)
    ma = ops.mutual_nn(x.to(CUDA), y.to(CUDA), backend='cpp')
    mb = ops.mutual_nn(x, y, backend='torch')
    assert torch.equal(ma.row.cpu(), mb.row) and torch.equal(ma.col.cpu(), mb.col)


# --------------------------------------------------------------------------------------------
# kmeans


def blobs(n, d, k, seed, dtype=torch.float32, spread=0.05):
    """k tight, well separated blobs (every blob non-empty when n >= k) and one representative row of
    each: with those as initial centroids no point is ever near a tie, so assignments are exact."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, d, generator=g, dtype=torch.float64) * 4
    lab = torch.arange(n) % k
    lab = lab[torch.randperm(n, generator=g)]
    x = (centers[lab] + spread * torch.randn(n, d, generator=g, dtype=torch.float64)).to(dtype)
    reps = torch.stack([(lab == c).nonzero()[0, 0] for c in range(k)])
    return x, reps


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('n,d,k', [(1, 3, 1), (50, 4, 50), (1000, 16, 5), (777, 130, 37), (3000, 8, 200)])
def test_pp_init_matches_reference(n, d, k, dtype):
    """Exact unless u_t * total falls within rounding of a cumulative boundary (the device scan sums
    in another order than the CPU): vanishingly unlikely on random data."""
    need('kmeans_pp_init')
    g = torch.Generator().manual_seed(n * 31 + k)
    x = torch.randn(n, d, generator=g).to(dtype)
    u = ops.kmeans_uniforms(k, seed=n + d)
    poison_allocator()
    got = torch.ops.psqe.kmeans_pp_init(x.to(CUDA), u.to(CUDA)).cpu()
    want = reference.kmeans_pp_init(x, u)
    assert got.dtype == torch.long and got.shape == (k,)
    assert int(got.min()) >= 0 and int(got.max()) < n
    assert torch.equal(got, want)


def test_pp_init_duplicates_and_all_equal_rows():
    need('kmeans_pp_init')
    x = torch.ones(40, 3)  # total == 0 after the first pick: floor(u * N) each time
    u = torch.tensor([0.0, 0.5, 0.999, 0.25], dtype=torch.float64)
    got = torch.ops.psqe.kmeans_pp_init(x.to(CUDA), u.to(CUDA)).cpu()
    assert torch.equal(got, reference.kmeans_pp_init(x, u))
    assert got.tolist() == [0, 20, 39, 10]
    x = torch.tensor([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5 + [[5.0, 0.0]] * 3)
    u = ops.kmeans_uniforms(6, seed=3)
    got = torch.ops.psqe.kmeans_pp_init(x.to(CUDA), u.to(CUDA)).cpu()
    assert torch.equal(got, reference.kmeans_pp_init(x, u))


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('n,k,d', [(1, 1, 3), (300, 7, 5), (1000, 100, 17), (500, 33, 64)])
def test_lloyd_assignment_exact_with_ties(n, k, d, dtype):
    """iters = 0: the fused assignment alone, on small integers (exact scores in any order) with
    duplicated centroids, so ties must go to the lower centroid id; k > 64 / 32 spans several tiles."""
    need('kmeans_lloyd')
    g = torch.Generator().manual_seed(n + k)
    x = torch.randint(-3, 4, (n, d), generator=g).to(dtype)
    c0 = torch.randint(-3, 4, (k, d), generator=g).to(dtype)
    h = k // 2
    c0[k - h:] = c0[:h]  # the last h centroids duplicate the first h
    poison_allocator()
    c, a, inertia = torch.ops.psqe.kmeans_lloyd(x.to(CUDA), c0.to(CUDA), 0, 0.0)
    rc, ra, rinertia = reference.kmeans_lloyd(x, c0, 0, 0.0)
    assert int(a.min()) >= 0 and int(a.max()) < k
    assert torch.equal(a.cpu(), ra)
    assert int(a.max()) < k - h, 'a duplicated centroid must lose the tie to its lower-id twin'
    assert torch.equal(c.cpu(), c0)
    assert inertia == rinertia  # integer distances: exact in float64


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('n,d,k', [(2000, 16, 5), (999, 300, 7), (1500, 200, 64), (700, 5, 150)])
def test_lloyd_matches_reference_on_separated_blobs(n, d, k, dtype):
    """k * d <= 6 K doubles accumulates in shared memory, (64, 200) and beyond through global atomics."""
    need('kmeans_lloyd')
    x, reps = blobs(n, d, k, seed=n + k, dtype=dtype)
    c0 = x[reps]
    poison_allocator()
    c, a, inertia = torch.ops.psqe.kmeans_lloyd(x.to(CUDA), c0.to(CUDA), 10, 0.0)
    rc, ra, rinertia = reference.kmeans_lloyd(x, c0, 10, 0.0)
    assert a.dtype == torch.long and int(a.min()) >= 0 and int(a.max()) < k
    assert torch.equal(a.cpu(), ra)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(c.cpu(), rc, rtol=tol, atol=tol)
    assert math.isclose(inertia, rinertia, rel_tol=1e-9 if dtype == torch.float64 else 1e-6)


def test_lloyd_empty_cluster_keeps_its_centroid():
    need('kmeans_lloyd')
    x, reps = blobs(500, 6, 3, seed=9)
    c0 = torch.cat([x[reps], torch.full((1, 6), 1e3)])  # centroid 3 attracts nobody
    for iters in (1, 5):
        c, a, inertia = torch.ops.psqe.kmeans_lloyd(x.to(CUDA), c0.to(CUDA), iters, -1.0)
        rc, ra, rinertia = reference.kmeans_lloyd(x, c0, iters, -1.0)
        assert torch.equal(a.cpu(), ra)
        assert torch.equal(c.cpu()[3], c0[3])
        torch.testing.assert_close(c.cpu(), rc, rtol=1e-6, atol=1e-6)
        assert math.isclose(inertia, rinertia, rel_tol=1e-6)


def test_lloyd_tol_stops_like_the_reference():
    need('kmeans_lloyd')
    x, reps = blobs(800, 10, 4, seed=2, spread=0.5)
    c0 = x[reps]
    for tol in (-1.0, 0.0, 1e9):  # every step / until nothing moves / after the first step
        c, a, _ = torch.ops.psqe.kmeans_lloyd(x.to(CUDA), c0.to(CUDA), 50, tol)
        rc, ra, _ = reference.kmeans_lloyd(x, c0, 50, tol)
        assert torch.equal(a.cpu(), ra)
        torch.testing.assert_close(c.cpu(), rc, rtol=1e-6, atol=1e-6)


def test_kmeans_wrapper_on_cuda():
    need('kmeans_lloyd')
    need('kmeans_pp_init')
    x, _ = blobs(1200, 12, 5, seed=4)
    a = ops.kmeans(x.to(CUDA), 5, iters=20, seed=7, backend='cpp')
    b = ops.kmeans(x, 5, iters=20, seed=7, backend='torch')
    assert a.centroids.device.type == 'cuda'
    assert torch.equal(a.assignment.cpu(), b.assignment)
    torch.testing.assert_close(a.centroids.cpu(), b.centroids, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------------
# greedy_match


def cuda_greedy(row, col, score, limit=-1):
    poison_allocator()
    out = torch.ops.psqe.greedy_match(row.to(CUDA), col.to(CUDA), score.to(CUDA), limit)
    torch.cuda.synchronize()
    return out.cpu()


def candidates(L, n_rows, n_cols, seed, levels=None, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    row = torch.randint(0, n_rows, (L,), generator=g)
    col = torch.randint(0, n_cols, (L,), generator=g)
    if levels is None:
        score = torch.rand(L, generator=g, dtype=torch.float64).to(dtype)
    else:
        score = torch.randint(0, levels, (L,), generator=g).to(dtype)  # many ties
    return row, col, score


@pytest.mark.parametrize('limit', [-1, 0, 1, 7, 100, 10 ** 9])
@pytest.mark.parametrize('L,nr,nc,levels', [(1, 1, 1, None), (50, 10, 10, 3), (3000, 500, 400, None),
                                            (20000, 3000, 2500, 5), (100000, 20000, 20000, None)])
def test_greedy_match_equals_reference(L, nr, nc, levels, limit):
    need('greedy_match')
    row, col, score = candidates(L, nr, nc, seed=L + nr, levels=levels)
    got = cuda_greedy(row, col, score, limit)
    want = reference.greedy_match(row, col, score, limit)
    assert got.dtype == torch.long
    assert torch.equal(got, want)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_greedy_match_score_dtypes(dtype):
    need('greedy_match')
    row, col, score = candidates(5000, 800, 900, seed=3, levels=50, dtype=dtype)
    assert torch.equal(cuda_greedy(row, col, score), reference.greedy_match(row, col, score))


def test_greedy_match_long_conflict_chain():
    """A path r0-c0-r1-c1-... with scores falling along it: each round accepts one pair and kills
    two candidates, so after kMaxRounds = 4096 rounds the sequential finisher takes the rest."""
    need('greedy_match')
    n = 6000
    rows, cols = [], []
    for j in range(n):
        rows += [j, j + 1]
        cols += [j, j]
    row, col = torch.tensor(rows), torch.tensor(cols)
    score = torch.arange(2 * n, 0, -1, dtype=torch.float32)  # strictly falling along the path
    got = cuda_greedy(row, col, score)
    assert torch.equal(got, reference.greedy_match(row, col, score))
    assert torch.equal(got, torch.arange(0, 2 * n, 2))


def test_greedy_match_sparse_huge_ids_and_duplicates():
    need('greedy_match')
    row, col, score = candidates(4000, 300, 300, seed=5, levels=7)
    row = row * 10 ** 12 + 17  # remapped through unique ids
    row = torch.cat([row, row[:100]])  # duplicated candidates
    col = torch.cat([col, col[:100]])
    score = torch.cat([score, score[:100]])
    for limit in (-1, 25):
        assert torch.equal(cuda_greedy(row, col, score, limit), reference.greedy_match(row, col, score, limit))


def test_greedy_match_empty_and_errors():
    need('greedy_match')
    e = torch.empty(0, dtype=torch.long)
    assert cuda_greedy(e, e, torch.empty(0)).numel() == 0
    one = torch.zeros(1, dtype=torch.long)
    assert cuda_greedy(one, one, torch.ones(1), 0).numel() == 0
    with pytest.raises(RuntimeError, match='>= 0'):
        torch.ops.psqe.greedy_match(torch.tensor([-1], device=CUDA), one.to(CUDA), torch.ones(1, device=CUDA), -1)
    with pytest.raises(RuntimeError, match='NaN'):
        torch.ops.psqe.greedy_match(one.to(CUDA), one.to(CUDA), torch.full((1,), float('nan'), device=CUDA), -1)


def test_greedy_match_wrapper_on_cuda():
    need('greedy_match')
    row, col, score = candidates(2000, 200, 200, seed=8, levels=10)
    got = ops.greedy_match(row.to(CUDA), col.to(CUDA), score.to(CUDA), 50, backend='cpp')
    assert got.device.type == 'cuda'
    assert torch.equal(got.cpu(), reference.greedy_match(row, col, score, 50))
