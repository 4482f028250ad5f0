"""greedy_match: every backend and device against a literal Python loop."""
import pytest
import torch

from ops_cases import BACKENDS, DEVICES, needs, one_thread  # noqa: F401
from psqe_pyg import ops

need = needs('greedy_match')


def loop(row, col, score, limit=None, group=None, group_limit=None):
    """The walk, literally: sort positions by (-score, position), accept when both ends are free."""
    row, col, score = row.tolist(), col.tolist(), score.tolist()
    order = sorted(range(len(row)), key=lambda p: (-score[p], p))
    used_r, used_c, out = set(), set(), []
    used_g = {}
    for p in order:
        if limit is not None and len(out) >= limit:
            break
        if row[p] in used_r or col[p] in used_c:
            continue
        if group is not None:
            g = int(group[p])
            cap = group_limit if isinstance(group_limit, int) else int(group_limit[g])
            if cap >= 0 and used_g.get(g, 0) >= cap:
                continue
            used_g[g] = used_g.get(g, 0) + 1
        used_r.add(row[p])
        used_c.add(col[p])
        out.append(p)
    return out


def candidates(n, n_rows, n_cols, seed, levels=6):
    g = torch.Generator().manual_seed(seed)
    row = torch.randint(0, n_rows, (n,), generator=g)
    col = torch.randint(0, n_cols, (n,), generator=g)
    score = torch.randint(0, levels, (n,), generator=g).float() / levels  # many ties
    return row, col, score


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('limit', [None, 0, 1, 7, 40, 10_000])
def test_matches_loop_with_ties(backend, device, limit):
    need(backend, device)
    for seed, (n, nr, nc) in enumerate([(300, 40, 50), (500, 200, 20), (60, 5, 5), (1, 1, 1)]):
        row, col, score = candidates(n, nr, nc, seed)
        got = ops.greedy_match(row.to(device), col.to(device), score.to(device), limit, backend=backend)
        assert got.device.type == device and got.dtype == torch.long
        assert got.cpu().tolist() == loop(row, col, score, limit)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_continuous_scores_and_chains(backend, device):
    need(backend, device)
    g = torch.Generator().manual_seed(3)
    row, col, _ = candidates(2000, 300, 300, 3)
    score = torch.rand(2000, generator=g, dtype=torch.float64)
    got = ops.greedy_match(row.to(device), col.to(device), score.to(device), backend=backend)
    assert got.cpu().tolist() == loop(row, col, score)
    # A chain: each candidate conflicts with the next, so the walk alternates accept / refuse.
    n = 501
    row = torch.arange(n) // 2
    col = (torch.arange(n) + 1) // 2
    score = torch.linspace(1, 0, n)
    got = ops.greedy_match(row.to(device), col.to(device), score.to(device), backend=backend)
    assert got.cpu().tolist() == loop(row, col, score) == list(range(0, n, 2))


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
def test_empty_and_sparse_ids(backend, device):
    need(backend, device)
    empty = torch.empty(0, dtype=torch.long, device=device)
    out = ops.greedy_match(empty, empty, torch.empty(0, device=device), backend=backend)
    assert out.numel() == 0 and out.dtype == torch.long
    # Arbitrary non-negative ids, far beyond the candidate count (the kernel's sparse path).
    row = torch.tensor([10 ** 12, 5, 10 ** 12, 7, 5])
    col = torch.tensor([3, 2 ** 40, 2 ** 40, 3, 9])
    score = torch.tensor([0.5, 0.9, 0.7, 0.5, 0.1])
    got = ops.greedy_match(row.to(device), col.to(device), score.to(device), backend=backend)
    assert got.cpu().tolist() == loop(row, col, score) == [1, 0]


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float64])
def test_score_dtypes(backend, device, dtype):
    need(backend, device)
    row, col, score = candidates(200, 30, 30, 5)
    got = ops.greedy_match(row.to(device), col.to(device), score.to(device, dtype), 12, backend=backend)
    assert got.cpu().tolist() == loop(row, col, score.to(dtype), 12)


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('group_limit', [0, 1, 2, 'per-group'])
def test_group_limits(backend, device, group_limit):
    need(backend, device, 'greedy_match_grouped')
    row, col, score = candidates(400, 60, 60, 6)
    g = torch.Generator().manual_seed(7)
    group = torch.randint(0, 12, (400,), generator=g)
    if group_limit == 'per-group':
        group_limit = torch.randint(-1, 4, (12,), generator=g)  # -1: unlimited
    for limit in (None, 9):
        gl = group_limit.to(device) if isinstance(group_limit, torch.Tensor) else group_limit
        got = ops.greedy_match(row.to(device), col.to(device), score.to(device), limit, group=group.to(device),
                               group_limit=gl, backend=backend)
        assert got.cpu().tolist() == loop(row, col, score, limit, group, group_limit)


def test_auto_backend_agrees_with_torch():
    row, col, score = candidates(1000, 100, 120, 8)
    assert torch.equal(ops.greedy_match(row, col, score), ops.greedy_match(row, col, score, backend='torch'))


@pytest.mark.parametrize('backend', BACKENDS)
def test_input_errors(backend):
    need(backend, 'cpu')
    row, col, score = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.3, 0.2])
    with pytest.raises(ValueError, match='col must have 2 entries'):
        ops.greedy_match(row, torch.tensor([1]), score, backend=backend)
    with pytest.raises(ValueError, match='same length'):
        ops.greedy_match(row, col, torch.tensor([0.1, 0.2, 0.3]), backend=backend)
    with pytest.raises(TypeError, match='row must be int64'):
        ops.greedy_match(row.float(), col, score, backend=backend)
    with pytest.raises(ValueError, match='row must be 1-D'):
        ops.greedy_match(row.view(1, 2), col, score, backend=backend)
    with pytest.raises(TypeError, match='score must be a 1-D floating'):
        ops.greedy_match(row, col, torch.tensor([1, 2]), backend=backend)
    with pytest.raises(ValueError, match='score contains NaN'):
        ops.greedy_match(row, col, torch.tensor([0.1, float('nan')]), backend=backend)
    with pytest.raises(ValueError, match='>= 0'):
        ops.greedy_match(torch.tensor([0, -1]), col, score, backend=backend)
    with pytest.raises(ValueError, match='group needs group_limit'):
        ops.greedy_match(row, col, score, group=torch.tensor([0, 0]), backend=backend)
    with pytest.raises(ValueError, match='group_limit has 1 entries'):
        ops.greedy_match(row, col, score, group=torch.tensor([0, 1]), group_limit=torch.tensor([1]),
                         backend=backend)


@pytest.mark.skipif(not ops.WITH_EXTENSION, reason='compiled extension not built')
def test_op_level_checks():
    row, col, score = torch.tensor([0, 1]), torch.tensor([1, 0]), torch.tensor([0.3, 0.2])
    with pytest.raises(RuntimeError, match='greedy_match: row must be int64'):
        torch.ops.psqe.greedy_match(row.int(), col, score, -1)
    with pytest.raises(RuntimeError, match='same length'):
        torch.ops.psqe.greedy_match(row, col[:1], score, -1)
    with pytest.raises(RuntimeError, match='col ids must be >= 0'):
        torch.ops.psqe.greedy_match(row, torch.tensor([1, -3]), score, -1)
    with pytest.raises(RuntimeError, match='score must not contain NaN'):
        torch.ops.psqe.greedy_match(row, col, torch.tensor([float('nan'), 1.0]), -1)
    with pytest.raises(RuntimeError, match=r'group ids must be in \[0, 1\)'):
        torch.ops.psqe.greedy_match_grouped(row, col, score, torch.tensor([0, 1]), torch.tensor([1]), -1)
