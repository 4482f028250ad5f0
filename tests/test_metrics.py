"""Tests for psqe_pyg.metrics: ranking (cosine/CSLS, both candidate sets, tiling, pessimistic ties), seed
quality, degree and coverage."""
import math

import pytest
import torch
from torch_geometric.data import HeteroData

from psqe_pyg.metrics import (
    coverage_balance,
    degree,
    degree_buckets,
    grouped_ranking_metrics,
    link_ranks,
    ranking_metrics,
    seed_quality,
    summarize_ranks,
)


def _unit(deg):
    r = math.radians(deg)
    return [math.cos(r), math.sin(r)]


def _reference_ranks(src, tgt, pairs, csls_k=None, candidates='links'):
    """Obviously-correct pessimistic ranks: the full score matrix in float64 and Python loops; a candidate
    other than the gold one counts when it scores >= the gold one."""
    if candidates == 'links':
        src, tgt = src[pairs[0]], tgt[pairs[1]]
        pairs = torch.arange(pairs.size(1)).repeat(2, 1)
    s = torch.nn.functional.normalize(src.double(), dim=1)
    t = torch.nn.functional.normalize(tgt.double(), dim=1)
    sim = s @ t.t()
    if csls_k is not None:
        r_s = sim.topk(min(csls_k, sim.size(1)), dim=1).values.mean(1)
        r_t = sim.t().topk(min(csls_k, sim.size(0)), dim=1).values.mean(1)
        sim = 2 * sim - r_s[:, None] - r_t[None, :]
    fwd = [1 + sum(int(sim[a, j] >= sim[a, b]) for j in range(sim.size(1)) if j != b) for a, b in pairs.t().tolist()]
    bwd = [1 + sum(int(sim[i, b] >= sim[a, b]) for i in range(sim.size(0)) if i != a) for a, b in pairs.t().tolist()]
    return torch.tensor(fwd), torch.tensor(bwd)


# --------------------------------------------------------------------------------------------------
# ranking
# --------------------------------------------------------------------------------------------------
def _hand_case():
    # Sources at 0, 90, 45 degrees; targets at 10, 80, 5 degrees (see the expected ranks below).
    # Embedded in bigger tables under shuffled local ids, with arbitrary norms (cosine ignores them).
    src = torch.zeros(5, 2)
    tgt = torch.zeros(4, 2)
    pairs = torch.tensor([[3, 0, 4], [1, 2, 0]])
    for (i, j), a, b, scale in zip(pairs.t().tolist(), (0, 90, 45), (10, 80, 5), (2.0, 0.5, 3.0)):
        src[i] = torch.tensor(_unit(a)) * scale
        tgt[j] = torch.tensor(_unit(b)) / scale
    src[1] = torch.tensor([5.0, 5.0])  # not a test entity: never a candidate
    tgt[3] = torch.tensor([1.0, 0.0])
    return src, tgt, pairs


def test_ranking_hand_made_both_directions():
    src, tgt, pairs = _hand_case()
    # src->tgt: s(0deg): t(5deg) beats the true t(10deg) -> 2; s(90): 1; s(45): t(10), t(80) at 35deg
    #           beat the true t(5) at 40deg -> 3.            ranks [2, 1, 3]
    # tgt->src: t(10): 1; t(80): 1; t(5): s(0) beats the true s(45) -> 2.   ranks [1, 1, 2]
    ranks = link_ranks(src, tgt, pairs)
    assert ranks['src->tgt'].tolist() == [2, 1, 3]
    assert ranks['tgt->src'].tolist() == [1, 1, 2]
    m = ranking_metrics(src, tgt, pairs, ks=(1, 2, 3))
    fwd, bwd = m['src->tgt'], m['tgt->src']
    assert fwd == pytest.approx({'hits@1': 1 / 3, 'hits@2': 2 / 3, 'hits@3': 1.0, 'mrr': 11 / 18, 'mr': 2.0})
    assert bwd == pytest.approx({'hits@1': 2 / 3, 'hits@2': 1.0, 'hits@3': 1.0, 'mrr': 5 / 6, 'mr': 4 / 3})
    assert m['mean'] == pytest.approx({k: (fwd[k] + bwd[k]) / 2 for k in fwd})
    assert m['num_links'] == 3 and m['csls_k'] is None and m['candidates'] == 'links'
    # one direction only
    only = ranking_metrics(src, tgt, pairs, ks=(1,), direction='tgt')
    assert set(only) >= {'tgt->src', 'mean'} and 'src->tgt' not in only
    assert only['mean'] == pytest.approx(only['tgt->src'])
    assert only['tgt->src']['hits@1'] == pytest.approx(2 / 3)
    # the default ks
    assert set(ranking_metrics(src, tgt, pairs)['mean']) == {'hits@1', 'hits@5', 'hits@10', 'mrr', 'mr'}


def test_ranking_ties_are_pessimistic():
    # s at 0deg; candidates at +10 and -10 degrees have exactly equal cosine, and a duplicate of the
    # true target also ties: every tied candidate pushes the true partner down.
    src = torch.tensor([_unit(0), _unit(0), _unit(180)])
    tgt = torch.tensor([_unit(10), _unit(-10), _unit(10)])
    pairs = torch.tensor([[0, 1, 2], [0, 1, 2]])
    ranks = link_ranks(src, tgt, pairs, direction='src')
    # row 0: t0 (true), t1, t2 all tie -> 3; row 1: t0, t2 tie with the true t1 -> 3;
    # row 2 (180deg): cos(170deg) to t0 and t2 (true), cos(190deg), the same value, to t1 -> 3
    assert ranks['src->tgt'].tolist() == [3, 3, 3]
    # s at 0deg, its partner t0 at 20deg: t1 at 0deg scores higher, t2 at -20deg ties -> 1 + 2
    ranks = link_ranks(torch.tensor([_unit(0)] * 3), torch.tensor([_unit(20), _unit(0), _unit(-20)]),
                       torch.arange(3).repeat(2, 1), direction='src')
    assert ranks['src->tgt'][0] == 3
    # all-identical embeddings: everything ties, every link ranks last
    same = torch.ones(4, 3)
    p = torch.arange(4).repeat(2, 1)
    m = ranking_metrics(same, same, p)
    assert m['mean']['hits@1'] == 0.0 and m['mean']['mr'] == 4.0
    assert ranking_metrics(same, same, p, candidates='all', csls_k=2)['mean']['mr'] == 4.0


def test_collapsing_encoder_scores_badly():
    # A "names encoder" that maps every name to the one-hot of its first letter: 60 names, 6 letters, so
    # each true partner ties with 9 other candidates. Optimistic ranks would give Hits@1 = 1.0.
    names = [f'{"abcdef"[i % 6]}entity{i}' for i in range(60)]
    encode = lambda ns: torch.nn.functional.one_hot(torch.tensor(['abcdef'.index(n[0]) for n in ns]), 6).float()  # noqa: E731
    x = encode(names)
    pairs = torch.arange(60).repeat(2, 1)
    m = ranking_metrics(x, x.clone(), pairs, ks=(1, 10), csls_k=5)
    assert m['mean']['hits@1'] == 0.0 and m['mean']['hits@10'] == 1.0 and m['mean']['mr'] == 10.0


@pytest.mark.parametrize('tile_size', [1, 2, 3, 7, 64, None])
@pytest.mark.parametrize('csls_k', [None, 1, 3])
@pytest.mark.parametrize('candidates', ['links', 'all'])
def test_ranking_matches_reference_any_tile(tile_size, csls_k, candidates):
    g = torch.Generator().manual_seed(0)
    src = torch.randn(40, 6, generator=g, dtype=torch.float64)
    tgt = torch.randn(35, 6, generator=g, dtype=torch.float64)
    pairs = torch.stack([torch.randperm(40, generator=g)[:23], torch.randperm(35, generator=g)[:23]])
    tgt[pairs[1]] = src[pairs[0]] + 0.8 * torch.randn(23, 6, generator=g, dtype=torch.float64)
    tgt[pairs[1][:3]] = tgt[pairs[1][3:6]]  # exact ties among the candidates
    fwd, bwd = _reference_ranks(src, tgt, pairs, csls_k, candidates)
    out = link_ranks(src, tgt, pairs, csls_k=csls_k, candidates=candidates, tile_size=tile_size)
    assert torch.equal(out['src->tgt'].cpu(), fwd)
    assert torch.equal(out['tgt->src'].cpu(), bwd)
    assert 1 < int(fwd.max())  # the case is not trivial


def test_ranking_float32_tiles_consistent():
    # float32 inputs: tiled and untiled results agree exactly, and a perfect alignment ranks 1 everywhere.
    g = torch.Generator().manual_seed(1)
    x = torch.randn(300, 16, generator=g)
    pairs = torch.arange(300).repeat(2, 1)
    a = ranking_metrics(x, x.clone(), pairs, tile_size=17)
    assert a['mean']['hits@1'] == 1.0 and a['mean']['mr'] == 1.0
    y = x + torch.randn(300, 16, generator=g)
    r1 = link_ranks(x, y, pairs, tile_size=13, csls_k=10)
    r2 = link_ranks(x, y, pairs, csls_k=10)
    assert all(torch.equal(r1[d], r2[d]) for d in r1)


def test_csls_fixes_hub():
    # Cosine matrix M[i, j] = cos(s_i, t_j), realised exactly by one-hot sources and padded targets.
    # t2 is a hub: close to every source. With cosine, s0 and s1 prefer the hub over their partners;
    # with CSLS (k=1) the hub's high neighbourhood score r_tgt(t2) = 0.60 penalises it:
    #   s0: csls(t0) = 1.00 - .54 - .50 = -0.04  >  csls(t2) = 1.08 - .54 - .60 = -0.06
    #   s1: csls(t1) = 1.00 - .52 - .50 = -0.02  >  csls(t2) = 1.04 - .52 - .60 = -0.08
    M = torch.tensor([[0.50, 0.10, 0.54],
                      [0.10, 0.50, 0.52],
                      [0.05, 0.05, 0.60]], dtype=torch.float64)
    src = torch.cat([torch.eye(3, dtype=torch.float64), torch.zeros(3, 1, dtype=torch.float64)], 1)
    pad = (1 - (M ** 2).sum(0)).sqrt()
    tgt = torch.cat([M.t(), pad[:, None]], 1)
    pairs = torch.arange(3).repeat(2, 1)
    cos = ranking_metrics(src, tgt, pairs, ks=(1,), direction='src')
    assert link_ranks(src, tgt, pairs, direction='src')['src->tgt'].tolist() == [2, 2, 1]
    assert cos['src->tgt']['hits@1'] == pytest.approx(1 / 3)
    assert cos['src->tgt']['mrr'] == pytest.approx(2 / 3)
    csls = ranking_metrics(src, tgt, pairs, ks=(1,), csls_k=1)
    assert csls['src->tgt']['hits@1'] == 1.0 and csls['src->tgt']['mr'] == 1.0
    assert csls['tgt->src']['hits@1'] == 1.0
    assert csls['csls_k'] == 1
    # a csls_k above L is clamped to L (a valid, if uninformative, neighbourhood)
    assert ranking_metrics(src, tgt, pairs, csls_k=50)['num_links'] == 3


def test_ranking_empty_and_errors():
    src, tgt, pairs = _hand_case()
    empty = ranking_metrics(src, tgt, torch.zeros(2, 0, dtype=torch.long))
    assert empty['num_links'] == 0 and empty['mean']['hits@1'] == 0.0
    with pytest.raises(ValueError, match='direction'):
        ranking_metrics(src, tgt, pairs, direction='left')
    with pytest.raises(ValueError, match='candidates'):
        ranking_metrics(src, tgt, pairs, candidates='test')
    with pytest.raises(ValueError, match=r'pairs\[0\].*src_emb'):
        ranking_metrics(src, tgt, torch.tensor([[5], [0]]))
    with pytest.raises(ValueError, match=r'pairs\[1\].*tgt_emb'):
        ranking_metrics(src, tgt, torch.tensor([[0], [4]]))
    with pytest.raises(ValueError, match=r'shape \[2, L\]'):
        ranking_metrics(src, tgt, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match='dims'):
        ranking_metrics(src, torch.zeros(4, 3), pairs)
    with pytest.raises(ValueError, match='csls_k'):
        ranking_metrics(src, tgt, pairs, csls_k=0)
    with pytest.raises(ValueError, match='tile_size'):
        ranking_metrics(src, tgt, pairs, tile_size=0)
    with pytest.raises(ValueError, match='ks'):
        ranking_metrics(src, tgt, pairs, ks=(0,))
    with pytest.raises(TypeError, match='integer'):
        ranking_metrics(src, tgt, pairs.float())
    nan = src.clone()
    nan[3, 0] = float('nan')
    with pytest.raises(ValueError, match='src_emb has NaN'):
        ranking_metrics(nan, tgt, pairs)
    nan = src.clone()
    nan[1, 0] = float('nan')  # not a test entity: ignored, unless every entity is a candidate
    assert ranking_metrics(nan, tgt, pairs)['num_links'] == 3
    with pytest.raises(ValueError, match='src_emb has NaN'):
        ranking_metrics(nan, tgt, pairs, candidates='all')


def test_summarize_and_grouped():
    ranks = torch.tensor([1, 2, 1, 10, 4])
    s = summarize_ranks(ranks, ks=(1, 5))
    assert s == pytest.approx({'hits@1': 0.4, 'hits@5': 0.8, 'mrr': (1 + .5 + 1 + .1 + .25) / 5, 'mr': 3.6})
    per = grouped_ranking_metrics(ranks, torch.tensor([0, 0, 2, 2, 2]), num_groups=3, ks=(1,))
    assert [p['count'] for p in per] == [2, 0, 3]
    assert per[0]['hits@1'] == 0.5 and per[1]['hits@1'] == 0.0 and per[2]['mr'] == pytest.approx(5.0)


# --------------------------------------------------------------------------------------------------
# seed quality
# --------------------------------------------------------------------------------------------------
def test_seed_quality_with_unverifiable_seeds():
    gold = torch.tensor([[0, 1, 2, 3], [10, 11, 12, 13]])
    seeds = torch.tensor([
        [0, 1, 5, 6, 7, 0],
        [10, 12, 11, 20, 21, 10],
    ])
    # (0,10) correct; (1,12) wrong, src in gold; (5,11) wrong, tgt in gold; (6,20), (7,21) touch no
    # gold entity: unverifiable; the last (0,10) repeats the first and counts once.
    q = seed_quality(seeds, gold)
    assert q['num_seeds'] == 5
    assert q['num_correct'] == 1
    assert q['precision'] == pytest.approx(1 / 5)
    assert q['num_verifiable'] == 3
    assert q['verifiable_precision'] == pytest.approx(1 / 3)
    assert q['num_gold'] == 4
    assert q['recall'] == pytest.approx(1 / 4)
    assert q['f1'] == pytest.approx(2 * 0.2 * 0.25 / 0.45)


def test_seed_quality_edges():
    gold = torch.tensor([[0, 1], [0, 1]])
    perfect = seed_quality(gold.clone(), gold)
    assert perfect['precision'] == perfect['recall'] == perfect['f1'] == perfect['verifiable_precision'] == 1.0
    none = seed_quality(torch.zeros(2, 0, dtype=torch.long), gold)
    assert none['num_seeds'] == 0 and none['precision'] == 0.0 and none['f1'] == 0.0
    # a swapped pair is wrong even though both ends are gold entities
    swapped = seed_quality(torch.tensor([[0, 1], [1, 0]]), gold)
    assert swapped['num_correct'] == 0 and swapped['num_verifiable'] == 2
    with pytest.raises(ValueError, match='seeds'):
        seed_quality(torch.zeros(3, 1, dtype=torch.long), gold)


# --------------------------------------------------------------------------------------------------
# degree, buckets, coverage
# --------------------------------------------------------------------------------------------------
def test_degree_undirected_distinct():
    data = HeteroData()
    data['src'].num_nodes = 5
    # 0-1 twice (two relations, both directions), 1-2, 2-2 self loop; 3 isolated...; 4-0
    data['src', 'rel', 'src'].edge_index = torch.tensor([[0, 1, 1, 2, 4], [1, 0, 2, 2, 0]])
    data['src', 'rel', 'src'].edge_type = torch.tensor([0, 1, 0, 1, 0])
    assert degree(data, 'src').tolist() == [2, 2, 1, 0, 1]
    assert degree(data, 'src', distinct=False).tolist() == [3, 3, 3, 0, 1]
    data['tgt'].num_nodes = 2
    with pytest.raises(ValueError, match='no tgt -> tgt relation edges'):
        degree(data, 'tgt')
    bad = HeteroData()
    bad['src'].num_nodes = 2
    bad['src', 'rel', 'src'].edge_index = torch.tensor([[0], [2]])
    with pytest.raises(ValueError, match='outside'):
        degree(bad, 'src')


def test_degree_buckets():
    assert degree_buckets(torch.tensor([6, 1, 5, 2, 4, 3])).tolist() == [2, 0, 2, 0, 1, 1]
    assert degree_buckets(torch.tensor([1, 2, 3, 4]), num_buckets=2).tolist() == [0, 0, 1, 1]
    # ties stay in one bucket: the tie group takes the bucket of its first member
    assert degree_buckets(torch.tensor([1, 1, 1, 1, 2, 3])).tolist() == [0, 0, 0, 0, 2, 2]
    assert degree_buckets(torch.tensor([1, 2, 2, 2, 2, 9])).tolist() == [0, 0, 0, 0, 0, 2]
    assert degree_buckets(torch.tensor([7, 7, 7])).tolist() == [0, 0, 0]
    assert degree_buckets(torch.tensor([3, 1]), num_buckets=1).tolist() == [0, 0]
    assert degree_buckets(torch.zeros(0, dtype=torch.long)).numel() == 0
    # explicit edges: [<1], [1, 5), [>=5]
    assert degree_buckets(torch.tensor([0, 1, 4, 5, 100]), edges=[1, 5]).tolist() == [0, 1, 1, 2, 2]
    with pytest.raises(ValueError, match='ascending'):
        degree_buckets(torch.tensor([1]), edges=[5, 1])
    with pytest.raises(ValueError, match='num_buckets'):
        degree_buckets(torch.tensor([1]), num_buckets=0)


def test_coverage_balance():
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    prop = coverage_balance(torch.tensor([0, 2, 4]), groups)
    assert prop['tv_distance'] == pytest.approx(0.0)
    assert prop['seed_count'] == [1, 1, 1] and prop['entity_count'] == [2, 2, 2]
    # all seeds in group 0: p = (1, 0, 0), q = (1/3, 1/3, 1/3) -> TV = 0.5 * (2/3 + 1/3 + 1/3) = 2/3
    skew = coverage_balance(torch.tensor([0, 1]), groups)
    assert skew['tv_distance'] == pytest.approx(2 / 3)
    assert skew['seed_share'] == pytest.approx([1.0, 0.0, 0.0])
    assert skew['entity_share'] == pytest.approx([1 / 3] * 3)
    # unequal groups (clusters): q = (.5, .25, .25), seeds p = (.25, .25, .5) -> TV = 0.25
    clusters = torch.tensor([0, 0, 0, 0, 1, 1, 2, 2])
    c = coverage_balance(torch.tensor([0, 4, 6, 7]), clusters)
    assert c['tv_distance'] == pytest.approx(0.25)
    # bool mask form and an empty extra group
    mask = torch.zeros(8, dtype=torch.bool)
    mask[[0, 4, 6, 7]] = True
    m = coverage_balance(mask, clusters, num_groups=4)
    assert m['tv_distance'] == pytest.approx(0.25) and m['seed_count'] == [1, 1, 2, 0]
    assert math.isnan(coverage_balance(torch.zeros(0, dtype=torch.long), groups)['tv_distance'])
    with pytest.raises(ValueError, match='seed_nodes'):
        coverage_balance(torch.tensor([6]), groups)
    with pytest.raises(ValueError, match='groups'):
        coverage_balance(torch.tensor([0]), groups, num_groups=2)


@pytest.mark.parametrize('device', ['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
def test_ranking_device(device):
    g = torch.Generator().manual_seed(3)
    src = torch.randn(60, 8, generator=g)
    tgt = src + 0.7 * torch.randn(60, 8, generator=g)
    pairs = torch.arange(60).repeat(2, 1)
    fwd, bwd = _reference_ranks(src, tgt, pairs, csls_k=5)
    out = link_ranks(src.to(device).double(), tgt.to(device).double(), pairs.to(device), csls_k=5, tile_size=16)
    assert out['src->tgt'].device.type == device
    assert torch.equal(out['src->tgt'].cpu(), fwd) and torch.equal(out['tgt->src'].cpu(), bwd)
