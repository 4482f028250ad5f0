"""Evaluation on hand-made rankings: ranks against both candidate sets, one-to-one decoding, the test and
validation splits, the degree groups, and an encoder that collapses names scoring at chance."""
import math

import pytest
import torch
from torch_geometric.data import HeteroData

from psqe_pyg.decoding import DECODERS
from psqe_pyg.evaluation import evaluate_alignment, gold_links, one_to_one_accuracy


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
    # greedy one-to-one takes (2, 2) (2 deg) and (1, 1) (5 deg) first, so src 0 gets tgt 0: all right;
    # so does the exact assignment and Sinkhorn
    assert out['one_to_one'] == {'greedy': 1.0, 'sinkhorn': 1.0, 'assignment': 1.0}
    assert out['one_to_one_hits@1'] == 1.0
    # against every entity: tgt 3 (outside the test links, at 45 deg) ties with tgt 1 and beats tgt 0:
    # src->tgt ranks 3 (src 0: tgt 1 and tgt 3 are closer), 2 (src 1: tgt 3 ties), 1; src 3 is the zero
    # vector (cosine 0 to all), so tgt->src stays 1, 1, 1
    assert out['cosine_all']['candidates'] == 'all'
    assert out['cosine_all']['src->tgt']['hits@1'] == pytest.approx(1 / 3)
    assert out['cosine_all']['src->tgt']['mr'] == pytest.approx(2.0)
    assert out['cosine_all']['tgt->src']['hits@1'] == 1.0
    # all-entity greedy: (2, 2) at 2 deg, then src 1 takes tgt 1 or tgt 3 (tied at 5 deg, by the shuffled
    # order), src 0 gets the other 45-degree target at 10 deg, never tgt 0 (35 deg): src 2 alone is certain
    assert 1 / 3 <= out['one_to_one_all']['greedy'] <= 2 / 3
    assert out['split'] == 'test' and 'csls' not in out and 'csls_all' not in out
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
    assert 'one_to_one_hits@1' not in out and 'one_to_one' not in out
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


def test_gold_links_splits_errors_and_fallback():
    data = _pair([(0, 1), (1, 0)], 2, [False, True], [])
    assert gold_links(data).tolist() == [[1], [0]]
    assert gold_links(data, 'val').tolist() == [[0], [1]]
    with pytest.raises(ValueError, match='split'):
        gold_links(data, 'train')
    del data['src', 'same_as', 'tgt'].test_mask
    assert gold_links(data).size(1) == 2
    del data['src', 'same_as', 'tgt'].train_mask
    with pytest.raises(ValueError, match='no train_mask'):
        gold_links(data, 'val')
    del data['src', 'same_as', 'tgt']
    with pytest.raises(ValueError, match='no gold links'):
        gold_links(data)


def test_validation_split_scores_only_the_validation_links():
    # links (i, i) for i < 6; the first two are validation (train_mask) links. The embeddings get the
    # validation links right and swap every test pair (2<->3, 4<->5), so val scores 1 and test 0.
    data = _pair([(i, i) for i in range(6)], 6, [False, False, True, True, True, True], [(0, 1)])
    src = torch.eye(6)
    tgt = src[[0, 1, 3, 2, 5, 4]]
    val = evaluate_alignment(data, src, tgt, split='val', csls_k=2)
    test = evaluate_alignment(data, src, tgt, split='test', csls_k=2)
    assert val['split'] == 'val' and val['num_links'] == 2 and test['num_links'] == 4
    assert val['cosine']['mean']['hits@1'] == 1.0 and val['one_to_one']['assignment'] == 1.0
    assert test['cosine']['mean']['hits@1'] == 0.0 and test['one_to_one']['greedy'] == 0.0
    # against all six entities the validation sources still find their partners
    assert val['cosine_all']['mean']['hits@1'] == 1.0 and val['one_to_one_all']['sinkhorn'] == 1.0
    # a chosen subset of decoders
    only = evaluate_alignment(data, src, tgt, split='val', csls_k=None, one_to_one=('sinkhorn',))
    assert only['one_to_one'] == {'sinkhorn': 1.0} and 'one_to_one_hits@1' not in only
    # without the 'all' candidate set: the same links-only results, no *_all entries
    links_only = evaluate_alignment(data, src, tgt, split='val', csls_k=2, all_candidates=False)
    assert not [key for key in links_only if key.endswith('_all')]
    assert {k: links_only[k] for k in ('cosine', 'csls', 'one_to_one')} == {k: val[k] for k in
                                                                            ('cosine', 'csls', 'one_to_one')}
    with pytest.raises(ValueError, match='decoder'):
        evaluate_alignment(data, src, tgt, one_to_one=('hungarian',))


def test_collapsing_name_encoder_scores_at_chance():
    # A "names encoder" that maps every name to the one-hot of its first letter: 60 test links, 6 letters,
    # so every true partner ties with 9 other candidates. Pessimistic ranks score it Hits@1 = 0, and the
    # decoders, fed the targets in a shuffled order, get about one link in ten right. Fed in link order,
    # a positional tie-break would have matched every link.
    names = [f'{"abcdef"[i % 6]}entity{i}' for i in range(60)]
    x = torch.nn.functional.one_hot(torch.tensor(['abcdef'.index(n[0]) for n in names]), 6).float()
    data = _pair([(i, i) for i in range(60)], 60, [True] * 60, [])
    out = evaluate_alignment(data, x, x.clone(), csls_k=5)
    for key in ('cosine', 'csls', 'cosine_all', 'csls_all'):
        assert out[key]['mean']['hits@1'] == 0.0 and out[key]['mean']['mr'] == 10.0, key
    for key in ('one_to_one', 'one_to_one_all'):
        for name, hits in out[key].items():
            assert hits <= 0.3, (key, name, hits)
    assert DECODERS['greedy'](x, x.clone()).col.tolist() == list(range(60))  # why the targets are shuffled
