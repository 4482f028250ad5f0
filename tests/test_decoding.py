"""Tests for psqe_pyg.decoding against plain references: dense Sinkhorn, brute-force assignment, the
sequential greedy walk; one-to-one output, deterministic ties, k above the candidate count, devices."""
import itertools

import pytest
import torch

from psqe_pyg.decoding import DECODERS, assignment, greedy, sinkhorn, sinkhorn_scores

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def _random(n, m, d=5, seed=0, device='cpu', dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randn(m, d, generator=g, dtype=dtype)
    return x.to(device), y.to(device)


def _dense_sinkhorn(scores, temperature, iterations):
    """The textbook log-domain Sinkhorn on a full matrix: rows, then columns, ``iterations`` times."""
    z = scores / temperature
    for _ in range(iterations):
        z = z - torch.logsumexp(z, dim=1, keepdim=True)
        z = z - torch.logsumexp(z, dim=0, keepdim=True)
    return z


def _greedy_walk(scores):
    """The sequential walk over all pairs by descending score (ties: lower row, then lower column)."""
    n, m = scores.shape
    order = sorted(((-float(scores[i, j]), i, j) for i in range(n) for j in range(m)))
    used_r, used_c, out = set(), set(), []
    for _, i, j in order:
        if i not in used_r and j not in used_c:
            used_r.add(i)
            used_c.add(j)
            out.append((i, j))
    return out


def _one_to_one(match):
    return (len(set(match.row.tolist())) == match.row.numel()
            and len(set(match.col.tolist())) == match.col.numel())


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('temperature, iterations', [(0.05, 10), (0.5, 1), (1.0, 0), (0.2, 25)])
@pytest.mark.parametrize('n, m', [(7, 9), (9, 7), (6, 6)])
def test_sinkhorn_full_candidates_equal_dense(device, temperature, iterations, n, m):
    x, y = _random(n, m, device=device)
    sc = sinkhorn_scores(x, y, k=max(n, m), temperature=temperature, iterations=iterations)
    assert sc.row.device.type == device and sc.log_prob.device.type == device
    assert sc.row.numel() == n * m  # every pair is a candidate
    # sorted by row, then column
    assert torch.equal(sc.row * m + sc.col, torch.arange(n * m, device=device))
    ref = _dense_sinkhorn(x @ y.t(), temperature, iterations)
    assert torch.allclose(sc.log_prob, ref[sc.row, sc.col], atol=1e-9)
    assert torch.allclose(sc.score, (x @ y.t())[sc.row, sc.col])
    if iterations:  # the last step normalised the columns
        col_sums = torch.zeros(m, dtype=torch.float64, device=device).index_add_(0, sc.col, sc.log_prob.exp())
        assert torch.allclose(col_sums, torch.ones_like(col_sums))


@pytest.mark.parametrize('device', DEVICES)
def test_sinkhorn_sparse_support_is_the_union_of_both_top_k(device):
    x, y = _random(30, 25, seed=1, device=device)
    k = 3
    s = x @ y.t()
    # ties are impossible in random float64 data, so the top-k sets are unambiguous
    expected = {(i, j) for i in range(30) for j in s[i].topk(k).indices.tolist()}
    expected |= {(i, j) for j in range(25) for i in s[:, j].topk(k).indices.tolist()}
    sc = sinkhorn_scores(x, y, k=k, temperature=0.1, iterations=5)
    assert set(zip(sc.row.tolist(), sc.col.tolist())) == expected
    assert torch.allclose(sc.score, s[sc.row, sc.col])
    # the sparse iterations are dense Sinkhorn on a matrix that is -inf outside the support
    masked = torch.full_like(s, float('-inf'))
    masked[sc.row, sc.col] = s[sc.row, sc.col]
    ref = _dense_sinkhorn(masked, 0.1, 5)
    assert torch.allclose(sc.log_prob, ref[sc.row, sc.col], atol=1e-9)


@pytest.mark.parametrize('n, m', [(4, 4), (5, 5), (3, 5), (5, 3)])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_assignment_equals_brute_force(n, m, seed):
    x, y = _random(n, m, seed=seed)
    s = x @ y.t()
    if n <= m:
        best = max(sum(float(s[i, p[i]]) for i in range(n)) for p in itertools.permutations(range(m), n))
    else:
        best = max(sum(float(s[p[j], j]) for j in range(m)) for p in itertools.permutations(range(n), m))
    match = assignment(x, y)
    assert match.row.numel() == min(n, m) and _one_to_one(match)
    assert float(match.score.sum()) == pytest.approx(best, abs=1e-12)
    assert torch.allclose(match.score, s[match.row, match.col])


def test_assignment_beats_greedy_where_greedy_is_myopic():
    # scores [[0.9, 0.8], [0.85, 0.1]] (one-hot x against y = S^T): greedy takes 0.9 then 0.1 (1.0),
    # the assignment 0.8 + 0.85 = 1.65
    s = torch.tensor([[0.9, 0.8], [0.85, 0.1]], dtype=torch.float64)
    x, y = torch.eye(2, dtype=torch.float64), s.t().contiguous()
    g = greedy(x, y)
    assert sorted(zip(g.row.tolist(), g.col.tolist())) == [(0, 0), (1, 1)]
    a = assignment(x, y)
    assert sorted(zip(a.row.tolist(), a.col.tolist())) == [(0, 1), (1, 0)]
    assert float(a.score.sum()) == pytest.approx(1.65)


@pytest.mark.parametrize('n, m', [(12, 12), (10, 15), (15, 10)])
def test_greedy_is_the_sequential_walk(n, m):
    x, y = _random(n, m, seed=3)
    g = greedy(x, y)
    assert list(zip(g.row.tolist(), g.col.tolist())) == _greedy_walk(x @ y.t())


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('name', list(DECODERS))
@pytest.mark.parametrize('n, m', [(40, 40), (30, 45), (45, 30)])
def test_every_decoder_is_one_to_one(device, name, n, m):
    x, y = _random(n, m, d=4, seed=4, device=device, dtype=torch.float32)
    match = DECODERS[name](x, y)
    assert _one_to_one(match)
    assert int(match.row.max()) < n and int(match.col.max()) < m
    if name == 'sinkhorn':  # a row whose sparse candidates are all taken stays unmatched
        assert 0.8 * min(n, m) <= match.row.numel() <= min(n, m)
    else:
        assert match.row.numel() == min(n, m)
    assert torch.allclose(match.score.cpu(), (x @ y.t()).cpu()[match.row.cpu(), match.col.cpu()], atol=1e-5)


@pytest.mark.parametrize('device', DEVICES)
def test_ties_are_deterministic(device):
    # every score ties: greedy and Sinkhorn take the lowest free row and column; the assignment is the
    # same matching every call
    x = torch.ones(6, 3, device=device)
    y = torch.ones(8, 3, device=device)
    for name in ('greedy', 'sinkhorn'):
        match = DECODERS[name](x, y)
        assert list(zip(match.row.tolist(), match.col.tolist())) == [(i, i) for i in range(6)], name
    first = assignment(x, y)
    again = assignment(x.clone(), y.clone())
    assert _one_to_one(first) and first.row.numel() == 6
    assert torch.equal(first.row, again.row) and torch.equal(first.col, again.col)
    # two candidates tied in the sparse lists: the lower column wins in Sinkhorn
    s = torch.tensor([[0.5, 0.5, 0.1]])
    x, y = torch.eye(1, device=device), s.t().contiguous().to(device)
    match = sinkhorn(x, y, k=1)
    assert match.col.tolist() == [0]


def test_k_larger_than_the_candidates():
    x, y = _random(3, 4, seed=5)
    big = sinkhorn_scores(x, y, k=100, temperature=0.3, iterations=4)
    full = sinkhorn_scores(x, y, k=4, temperature=0.3, iterations=4)
    assert big.row.numel() == 12
    assert all(torch.equal(a, b) for a, b in zip(big, full))
    match = sinkhorn(x, y, k=100)
    assert match.row.numel() == 3 and _one_to_one(match)


def test_sinkhorn_recovers_a_permutation_with_a_hub():
    # target 0 is close to every source: greedy gives it to the source it is closest to overall, Sinkhorn's
    # column normalisation spreads it; both recover the identity here, and Sinkhorn with k=2 too
    g = torch.Generator().manual_seed(6)
    y = torch.nn.functional.normalize(torch.randn(20, 16, generator=g, dtype=torch.float64), dim=1)
    x = torch.nn.functional.normalize(y + 0.3 * torch.randn(20, 16, generator=g, dtype=torch.float64), dim=1)
    x = torch.nn.functional.normalize(x + 0.6 * y[0], dim=1)  # every source leans to target 0
    for match in (sinkhorn(x, y, k=2, temperature=0.05, iterations=20), assignment(x, y)):
        assert sorted(zip(match.row.tolist(), match.col.tolist())) == [(i, i) for i in range(20)]


def test_empty_and_errors():
    x, y = _random(4, 3)
    empty = x[:0]
    for name, fn in DECODERS.items():
        match = fn(empty, y)
        assert match.row.numel() == 0 and match.col.numel() == 0, name
    with pytest.raises(ValueError, match='max_size=2'):
        assignment(x, y, max_size=2)
    with pytest.raises(ValueError, match='temperature'):
        sinkhorn_scores(x, y, temperature=0.0)
    with pytest.raises(ValueError, match='iterations'):
        sinkhorn_scores(x, y, iterations=-1)
    with pytest.raises(ValueError, match='k must be'):
        sinkhorn_scores(x, y, k=0)
    with pytest.raises(ValueError, match='features'):
        sinkhorn(x, y[:, :2])
    with pytest.raises(ValueError, match='features'):
        assignment(x, y[:, :2])
    with pytest.raises(ValueError, match='dtype'):
        assignment(x, y.float())
    nan = x.clone()
    nan[0, 0] = float('nan')
    with pytest.raises(ValueError, match='x contains NaN'):
        assignment(nan, y)
