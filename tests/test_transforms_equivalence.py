"""Each vectorised PSQE stage selects exactly what a direct loop over DESIGN §4 selects."""
import math

import pytest
import torch
import torch.nn.functional as F

from pair_factory import random_pair
from psqe_pyg import ops
from psqe_pyg.transforms import (ClusterResample, ErrorCorrection, GlobalResample, NeighborhoodExpansion,
                                 Seeds, VisualPivot, get_seeds, set_seeds)
from psqe_pyg.ops import greedy_dense_match
from psqe_pyg.ops.matching import tie_break_order, tie_break_rank
from psqe_pyg.pair.modalities import fused_features, get_modalities, secondary_features


def loop_greedy(sim: torch.Tensor, limit: int, tie_seed: int | None = None) -> list[tuple[int, int]]:
    """The sequential walk over every pair by descending score, ties by (row, col), or with ``tie_seed`` by
    (row, col) in the random orders ``tie_break_order`` draws from ``tie_seed`` and ``tie_seed + 1``."""
    n, m = sim.shape
    row_rank, col_rank = list(range(n)), list(range(m))
    if tie_seed is not None:
        for rank, i in enumerate(tie_break_order(n, tie_seed, sim.device).tolist()):
            row_rank[i] = rank
        for rank, j in enumerate(tie_break_order(m, tie_seed + 1, sim.device).tolist()):
            col_rank[j] = rank
    order = sorted((-float(sim[i, j]), row_rank[i], col_rank[j], i, j) for i in range(n) for j in range(m))
    taken_r, taken_c, out = set(), set(), []
    for *_, i, j in order:
        if len(out) == limit:
            break
        if i not in taken_r and j not in taken_c:
            out.append((i, j))
            taken_r.add(i)
            taken_c.add(j)
    return out


def pairs_of(seeds: Seeds) -> list[tuple[int, int]]:
    return list(zip(seeds.edge_index[0].tolist(), seeds.edge_index[1].tolist()))


@pytest.mark.parametrize('n,m,d,limit,k', [(30, 25, 8, 10, 2), (25, 40, 5, 100, 1), (50, 50, 3, 50, 4),
                                           (7, 1, 4, 3, 16), (1, 9, 4, 5, 2)])
def test_greedy_dense_match_equals_loop(n, m, d, limit, k):
    gen = torch.Generator().manual_seed(n * m + d)
    x, y = torch.randn(n, d, generator=gen), torch.randn(m, d, generator=gen)
    x = x.double()
    y = y.double()
    match = greedy_dense_match(x, y, limit, k=k)
    assert list(zip(match.row.tolist(), match.col.tolist())) == loop_greedy(x @ y.t(), limit)


@pytest.mark.parametrize('seed', [None, 0, 3])
def test_greedy_dense_match_ties(seed):
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 2, (30, 4), generator=gen).double()
    y = torch.randint(0, 2, (28, 4), generator=gen).double()
    expected = loop_greedy(x @ y.t(), 20, tie_seed=seed)
    # With a cap that never binds the tied pairs are taken in (row, col) order, or in the seed's order.
    match = greedy_dense_match(x, y, 20, k=2, seed=seed)
    assert list(zip(match.row.tolist(), match.col.tolist())) == expected


def test_greedy_dense_match_ties_do_not_follow_input_order():
    """Every source ties with every target: positional tie-breaking returns the diagonal, the gold pairs of a
    file that lists both ends of a link at the same position; the seeded order matches by chance."""
    x = y = torch.ones(200, 3)
    positional = greedy_dense_match(x, y, 200, seed=None)
    assert bool((positional.row == positional.col).all())
    for seed in (0, 1):
        match = greedy_dense_match(x, y, 200, seed=seed)
        assert sorted(match.row.tolist()) == sorted(match.col.tolist()) == list(range(200))
        assert int((match.row == match.col).sum()) < 10  # about 1 expected by chance


def test_cluster_resample_equals_loop():
    data = random_pair(60, 55, seed=3)
    out = ClusterResample(budget=40, num_clusters=3, seed=5)(data)
    src, tgt = get_modalities(data)
    f_src, f_tgt = fused_features(src, (0.8, 0.1, 0.1)), fused_features(tgt, (0.8, 0.1, 0.1))
    km = ops.kmeans(torch.cat([f_src, f_tgt]), 3, iters=50, seed=5)
    c_src, c_tgt = km.assignment[:60], km.assignment[60:]
    m_src, m_tgt = secondary_features(src), secondary_features(tgt)
    expected = []
    for c in range(3):
        rows = [i for i in range(60) if c_src[i] == c]
        cols = [j for j in range(55) if c_tgt[j] == c]
        if not rows or not cols:
            continue
        quota = math.floor(40 * (len(rows) + len(cols)) / 115)
        sim = m_src[rows] @ m_tgt[cols].t()
        expected += [(rows[i], cols[j]) for i, j in loop_greedy(sim, quota)]
    seeds = get_seeds(out)
    assert pairs_of(seeds) == expected
    assert (seeds.stage == 1).all()
    assert torch.equal(out['src'].cluster, c_src)


def test_error_correction_equals_loop():
    data = random_pair(40, 40, seed=4)
    gen = torch.Generator().manual_seed(0)
    seeds = Seeds.of(torch.randperm(40, generator=gen)[:25], torch.randperm(40, generator=gen)[:25],
                     torch.rand(25, generator=gen), stage=1)
    out = ErrorCorrection()(set_seeds(data.clone(), seeds))
    src, tgt = get_modalities(data)
    f_src, f_tgt = fused_features(src, (0.8, 0.1, 0.1)), fused_features(tgt, (0.8, 0.1, 0.1))
    expected = []
    for i, (u, v) in enumerate(pairs_of(seeds)):
        scores = [float(f_src[u] @ f_tgt[w]) for w in seeds.edge_index[1].tolist()]
        if float(f_src[u] @ f_tgt[v]) >= max(scores) - 1e-6:
            expected.append((u, v))
    assert pairs_of(get_seeds(out)) == expected
    assert 0 < len(expected) < 25  # the test exercises both outcomes


def test_global_resample_selects_the_greedy_matching_of_its_views():
    data = ClusterResample(budget=20, num_clusters=2)(random_pair(50, 45, seed=6))
    before = get_seeds(data)
    out = GlobalResample(budget=30, hidden=16, epochs=5, progress=False)(data)
    seeds = get_seeds(out)
    assert pairs_of(seeds)[:len(before)] == pairs_of(before)
    z = [torch.cat([0.8 * F.normalize(out[nt].h_primary, dim=-1), 0.1 * F.normalize(out[nt].h_attr, dim=-1),
                    0.1 * F.normalize(out[nt].h_rel, dim=-1)], dim=-1) for nt in ('src', 'tgt')]
    seeded_src, seeded_tgt = set(before.edge_index[0].tolist()), set(before.edge_index[1].tolist())
    expected = [(i, j) for i, j in loop_greedy(z[0] @ z[1].t(), 30)
                if i not in seeded_src and j not in seeded_tgt]
    assert pairs_of(seeds)[len(before):] == expected
    assert (seeds.stage[len(before):] == 2).all()


def neighbours(data, nt):
    out = {i: set() for i in range(data[nt].num_nodes)}
    for a, b in data[nt, 'rel', nt].edge_index.t().tolist():
        if a != b:
            out[a].add(b)
            out[b].add(a)
    return out


def loop_expansion(data, seeds: Seeds, views: dict, weights=(0.8, 0.1, 0.1), tie_seed: int = 0):
    """DESIGN §4 stage 3, seed by seed; ties by (source, target) in the orders drawn from ``tie_seed``."""
    src_rank = tie_break_rank(data['src'].num_nodes, tie_seed, 'cpu').tolist()
    tgt_rank = tie_break_rank(data['tgt'].num_nodes, tie_seed + 1, 'cpu').tolist()
    src, tgt = get_modalities(data)

    def cos(raw_s, raw_t, learned_s, learned_t, a, b):
        xs = torch.cat([F.normalize(raw_s[a], dim=0), F.normalize(learned_s[a], dim=0)])
        xt = torch.cat([F.normalize(raw_t[b], dim=0), F.normalize(learned_t[b], dim=0)])
        return float(F.normalize(xs, dim=0) @ F.normalize(xt, dim=0))

    blocks = [(src.primary, tgt.primary, 'h_primary', weights[0]), (src.attr, tgt.attr, 'h_attr', weights[1]),
              (src.rel, tgt.rel, 'h_rel', weights[2])]
    n_src, n_tgt = neighbours(data, 'src'), neighbours(data, 'tgt')
    seeded_src, seeded_tgt = set(seeds.edge_index[0].tolist()), set(seeds.edge_index[1].tolist())
    m = len(seeds)
    added = []
    for i, (u, v) in enumerate(pairs_of(seeds)):
        eta, k = 0.8 + 0.1 * i / m, int(6 - 3 * i / m)
        cands = []
        for a in sorted(n_src[u]):
            for b in sorted(n_tgt[v]):
                s = sum(w * cos(rs, rt, views['src'][h], views['tgt'][h], a, b) for rs, rt, h, w in blocks)
                cands.append((-s / sum(weights), src_rank[a], tgt_rank[b], a, b))
        taken = 0
        for neg, _, _, a, b in sorted(cands):
            if taken >= k or -neg < eta:
                break
            if a in seeded_src or b in seeded_tgt:
                continue
            added.append((a, b))
            seeded_src.add(a)
            seeded_tgt.add(b)
            taken += 1
    return added


@pytest.mark.parametrize('seed', [0, 1])
def test_neighborhood_expansion_equals_loop(seed):
    # Names are shared latents with little noise, so many neighbour pairs clear the 0.8-0.9 thresholds.
    data = random_pair(60, 60, seed=seed, avg_degree=5.0)
    gen = torch.Generator().manual_seed(seed)
    for nt in ('src', 'tgt'):
        data[nt].x_name = data['src'].x_name[:60] + 0.05 * torch.randn(60, 16, generator=gen)
        data[nt].x_attr = data['src'].x_attr + 0.05 * torch.randn(60, 10, generator=gen)
        data[nt].x_rel = data['src'].x_rel + 0.05 * torch.randn(60, 8, generator=gen)
        for attr, dim in (('h_primary', 6), ('h_attr', 5), ('h_rel', 4)):
            data[nt][attr] = torch.randn(60, dim, generator=gen) * 0.1 + 1.0
    perm = torch.randperm(60, generator=gen)[:12]
    seeds = Seeds.of(perm, perm, torch.ones(12), stage=1)
    data = set_seeds(data, seeds)
    out = NeighborhoodExpansion()(data)
    views = {nt: {h: data[nt][h] for h in ('h_primary', 'h_attr', 'h_rel')} for nt in ('src', 'tgt')}
    expected = loop_expansion(data, seeds, views)
    got = get_seeds(out)
    assert pairs_of(got)[12:] == expected
    assert len(expected) > 5  # the case exercises the thresholds, quotas and conflicts
    assert (got.stage[12:] == 3).all()


@pytest.mark.parametrize('seed', [0, 5])
def test_neighborhood_expansion_ties_follow_the_seeded_order(seed):
    """Identical features tie every candidate: the walk takes them in the seed's order, not by id (ids that
    list both ends of a gold link at the same position would otherwise decide)."""
    data = random_pair(40, 40, seed=1, avg_degree=6.0)
    for nt in ('src', 'tgt'):
        for attr in ('x_name', 'x_attr', 'x_rel'):
            data[nt][attr] = torch.ones_like(data[nt][attr])
        for attr in ('h_primary', 'h_attr', 'h_rel'):
            data[nt][attr] = torch.ones(40, 3)
    seeds = Seeds.of(torch.arange(6), torch.arange(6), torch.ones(6), stage=1)
    data = set_seeds(data, seeds)
    got = pairs_of(get_seeds(NeighborhoodExpansion(seed=seed)(data)))[6:]
    views = {nt: {h: data[nt][h] for h in ('h_primary', 'h_attr', 'h_rel')} for nt in ('src', 'tgt')}
    assert got == loop_expansion(data, seeds, views, tie_seed=seed)
    assert len(got) > 5 and sum(a == b for a, b in got) < len(got) / 2


def test_visual_pivot_uses_image_else_name():
    data = random_pair(30, 30, seed=2, modalities=('x_img', 'x_name', 'x_rel'))
    out = VisualPivot(budget=12)(data)
    src, tgt = get_modalities(data)
    assert pairs_of(get_seeds(out)) == loop_greedy(src.primary @ tgt.primary.t(), 12)
    # An entity without image is compared by its name block only.
    no_img = (~data['src'].img_mask).nonzero().view(-1)
    assert src.primary[no_img, :12].abs().sum() == 0
