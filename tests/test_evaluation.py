"""Evaluation on hand-made rankings: ranks, one-to-one decoding, the split of test links and the degree groups."""
import math

import pytest
import torch
from torch_geometric.data import HeteroData

from psqe_pyg.evaluation import evaluate_alignment, gold_test_links, one_to_one_accuracy


def _pair(links: list[tuple[int, int]], n: int, test: list[bool], edges: list[tuple[int, int]]) -> HeteroData:
    data = HeteroData()
    data['src'].num_nodes = n
    data['tgt'].num_nodes = n
    data['src', 'rel', 'src'].edge_index = torch.tensor(edges, dtype=torch.long).t().reshape(2, -1)
    data['tgt', 'rel', 'tgt'].edge_index = torch.empty(2, 0, dtype=torch.long)
    data['src', 'same_as', 'tgt'].edge_index = torch.tensor(links).t()
    data['src', 'same_as', 'tgt'].test_mask = torch.tensor(test)
    data['src', 'same_as', 'tgt'].train_mask = ~torch.tensor(test)
    return data


def _angles(degrees: list[float]) -> torch.Tensor:
    rad = torch.tensor(degrees, dtype=torch.float64) * math.pi / 180
    return torch.stack([rad.cos(), rad.sin()], dim=1)


def test_hand_made_ranks_and_one_to_one():
    # Three test links (i, i). src 0 and src 1 both sit nearest tgt 1; src 2 nearest tgt 2.
    src = _angles([35, 50, 120])
    tgt = _angles([0, 45, 118])
    data = _pair([(0, 0), (1, 1), (2, 2), (3, 3)], 4, [True, True, True, False], [(0, 1), (0, 2), (1, 2)])
    out = evaluate_alignment(data, torch.cat([src, torch.zeros(1, 2)]), torch.cat([tgt, torch.ones(1, 2)]),
                             csls_k=None, degree_groups=3)
    assert out['num_links'] == 3  # the train link (3, 3) is not a test link
    s2t = out['cosine']['src->tgt']
    # src->tgt ranks: src 0 -> tgt 0 is 2nd (tgt 1 is closer), src 1 -> 1st, src 2 -> 1st.
    assert s2t['hits@1'] == pytest.approx(2 / 3)
    assert s2t['mrr'] == pytest.approx((1 / 2 + 1 + 1) / 3)
    # tgt->src: tgt 0 is nearest src 0 (35 deg), tgt 1 nearest src 1 (5 deg), tgt 2 nearest src 2.
    assert out['cosine']['tgt->src']['hits@1'] == 1.0
    assert out['cosine']['mean']['hits@1'] == pytest.approx((2 / 3 + 1) / 2)
    # greedy one-to-one takes (2, 2) (2 deg) and (1, 1) (5 deg) first, so src 0 gets tgt 0: all right.
    assert out['one_to_one_hits@1'] == 1.0
    # degrees of the test sources 0, 1, 2: 2, 2, 2 -> all tie in the sparsest bucket
    assert [g['count'] for g in out['by_degree']] == [3, 0, 0]
    assert out['by_degree'][0]['degree'] == [2, 2] and out['by_degree'][1]['degree'] is None
    assert out['by_degree'][0]['hits@1'] == pytest.approx(2 / 3)


def test_degree_thirds_split_sparse_from_dense():
    # degrees: src 0 -> 3, src 1..3 -> 1, src 4..5 -> 0; src 0 and src 4 swap partners, so both miss
    n = 6
    data = _pair([(i, i) for i in range(n)], n, [True] * n, [(0, 1), (0, 2), (0, 3)])
    src = torch.eye(n, dtype=torch.float64)
    tgt = src[[4, 1, 2, 3, 0, 5]]
    out = evaluate_alignment(data, src, tgt, csls_k=None, one_to_one=False, degree_groups=3)
    assert 'one_to_one_hits@1' not in out
    got = [(g['degree'], g['count'], g['hits@1']) for g in out['by_degree']]
    assert got == [([0, 0], 2, 0.5), ([1, 1], 3, 1.0), ([3, 3], 1, 0.0)]


def test_one_to_one_beats_plain_ranking_on_a_hub():
    # every src is nearest the hub tgt 0; plain Hits@1 is 1/4, one-to-one recovers the rest
    tgt = torch.eye(4)
    src = 0.6 * tgt + 0.4 * torch.tensor([1.0, 0, 0, 0])
    src[1:, 0] += 0.3
    links = torch.arange(4).expand(2, -1)
    assert one_to_one_accuracy(src, tgt, links) == 1.0
    data = _pair([(i, i) for i in range(4)], 4, [True] * 4, [])
    out = evaluate_alignment(data, src, tgt, csls_k=2)
    assert out['cosine']['src->tgt']['hits@1'] == pytest.approx(1 / 4)
    assert out['csls']['src->tgt']['hits@1'] > out['cosine']['src->tgt']['hits@1']


def test_gold_test_links_errors_and_fallback():
    data = _pair([(0, 1), (1, 0)], 2, [False, True], [])
    assert gold_test_links(data).tolist() == [[1], [0]]
    del data['src', 'same_as', 'tgt'].test_mask
    assert gold_test_links(data).size(1) == 2
    del data['src', 'same_as', 'tgt']
    with pytest.raises(ValueError, match='no gold links'):
        gold_test_links(data)
