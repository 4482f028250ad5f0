"""The predicted alignment: one-to-one decoding, the mutual flag, the no-counterpart threshold, the TSV file."""
import pytest
import torch

from psqe_pyg.datasets import SyntheticKGPair
from psqe_pyg.pair import SAME_AS
from psqe_pyg.pipeline import AlignerConfig, align_and_report, align_pair
from psqe_pyg.prediction import (HEADER, Alignment, alignment_quality, no_counterpart_threshold, otsu_threshold,
                                 predict_alignment, write_alignment)

SMALL = dict(seeds='psqe', budget=60, config=AlignerConfig(steps=30, refine_every=10, hidden=16), seed=0,
             progress=False, epochs=3)


def _greedy_walk(sim: torch.Tensor) -> list[tuple[int, int]]:
    """The literal greedy walk over all pairs by descending score (ties: lower row, then lower column)."""
    order = sorted(((-float(sim[i, j]), i, j) for i in range(sim.size(0)) for j in range(sim.size(1))))
    used_r, used_c, out = set(), set(), []
    for _, i, j in order:
        if i not in used_r and j not in used_c:
            used_r.add(i), used_c.add(j), out.append((i, j))
    return out


def test_otsu_splits_two_groups_and_handles_degenerate_input():
    gen = torch.Generator().manual_seed(0)
    low = 0.3 + 0.05 * torch.randn(200, generator=gen)
    high = 0.9 + 0.03 * torch.randn(800, generator=gen)
    t = otsu_threshold(torch.cat([low, high]))
    assert float(low.max()) < t <= float(high.min())
    assert otsu_threshold(torch.full((5,), 0.7)) == pytest.approx(0.7)
    with pytest.raises(ValueError, match='empty'):
        otsu_threshold(torch.empty(0))


def test_predict_alignment_is_the_exact_one_to_one_walk_with_the_mutual_flag():
    gen = torch.Generator().manual_seed(1)
    src, tgt = torch.randn(9, 5, generator=gen), torch.randn(7, 5, generator=gen)
    out = predict_alignment(src, tgt, threshold=None)
    sim = torch.nn.functional.normalize(src, dim=-1) @ torch.nn.functional.normalize(tgt, dim=-1).T
    assert list(zip(out.src.tolist(), out.tgt.tolist())) == _greedy_walk(sim)
    assert len(out.src) == 7 and len(set(out.src.tolist())) == 7  # one-to-one, min(N_src, N_tgt) pairs
    assert torch.allclose(out.score, sim[out.src, out.tgt], atol=1e-6)
    assert (out.score[:-1] >= out.score[1:]).all()  # best first
    expected = [int(sim[s].argmax()) == t and int(sim[:, t].argmax()) == s
                for s, t in zip(out.src.tolist(), out.tgt.tolist())]
    assert out.mutual.tolist() == expected
    assert out.threshold is None and out.accepted() is out


def test_threshold_auto_fixed_and_accepted_rows():
    gen = torch.Generator().manual_seed(2)
    src, tgt = torch.randn(30, 8, generator=gen), torch.randn(30, 8, generator=gen)
    auto = predict_alignment(src, tgt)
    assert auto.threshold == no_counterpart_threshold(auto.score)
    fixed = predict_alignment(src, tgt, threshold=0.5)
    kept = fixed.accepted()
    assert (kept.score >= 0.5).all() and len(kept.src) == int((fixed.score >= 0.5).sum())
    with pytest.raises(ValueError, match='threshold'):
        predict_alignment(src, tgt, threshold='otsu')
    with pytest.raises(ValueError, match='src_emb'):
        predict_alignment(src, tgt[:, :3])


def test_alignment_quality_counts_only_pairs_that_touch_a_link():
    links = torch.tensor([[0, 1, 2], [0, 1, 2]])
    # (0,0) right; (1,3) wrong (source in a link); (4,2) wrong (target in a link); (5,5) touches no link
    a = Alignment(torch.tensor([0, 1, 4, 5]), torch.tensor([0, 3, 2, 5]), torch.ones(4),
                  torch.ones(4, dtype=torch.bool), None)
    q = alignment_quality(a, links)
    assert (q['pairs'], q['verifiable'], q['correct'], q['links']) == (4, 3, 1, 3)
    assert q['precision'] == pytest.approx(1 / 3) and q['recall'] == pytest.approx(1 / 3)
    assert q['f1'] == pytest.approx(1 / 3)
    none = alignment_quality(Alignment(*(torch.empty(0, dtype=torch.long),) * 3, torch.empty(0, dtype=torch.bool),
                                       None), links)
    assert none['precision'] is None and none['recall'] == 0.0 and none['f1'] is None


def test_write_alignment_writes_entities_as_in_the_input(tmp_path):
    data = SyntheticKGPair(num_entities=20)[0]
    a = Alignment(torch.tensor([3, 0]), torch.tensor([1, 2]), torch.tensor([0.9, 0.25]),
                  torch.tensor([True, False]), 0.2)
    path = tmp_path / 'out.tsv'
    assert write_alignment(a, path, data) == 2
    lines = path.read_text(encoding='utf-8').splitlines()
    assert lines[0] == '\t'.join(HEADER) == 'src\ttgt\tscore\tmutual'
    assert lines[1] == f"{data['src'].uri[3]}\t{data['tgt'].uri[1]}\t0.900000\ttrue"
    assert lines[2] == f"{data['src'].uri[0]}\t{data['tgt'].uri[2]}\t0.250000\tfalse"
    data['src'].uri = ['bad\tname'] * data['src'].num_nodes
    with pytest.raises(ValueError, match='tab'):
        write_alignment(a, path, data)


@pytest.fixture(scope='module')
def pair():
    return SyntheticKGPair(num_entities=300)[0]


@pytest.fixture(scope='module')
def decoded(pair):
    return align_and_report(pair, **SMALL)


def test_align_pair_ignores_the_gold_links(pair, decoded):
    """Same table and threshold with the gold links deleted: neither the seeds, the aligner nor the threshold
    read them."""
    no_gold = pair.clone()
    del no_gold[SAME_AS]
    table = align_pair(no_gold, **SMALL)
    full, _ = decoded
    assert table.threshold == full.threshold
    kept = full.accepted()
    for mine, theirs in zip(table[:4], kept[:4]):
        assert torch.equal(mine, theirs)
    every = align_pair(no_gold, keep_all=True, **SMALL)
    assert len(every.src) == min(pair['src'].num_nodes, pair['tgt'].num_nodes) == len(full.src)


def test_the_threshold_drops_mostly_wrong_pairs(pair, decoded):
    """On the synthetic pair every entity outside the gold links truly has no counterpart, so each pair can be
    checked: the thresholded alignment must be precise (its precision is well above the 10% share of
    entities without counterpart) and more precise than every source's best target."""
    full, result = decoded
    gold = pair[SAME_AS].edge_index
    truth = set(zip(gold[0].tolist(), gold[1].tolist()))

    def precision(a: Alignment) -> float:
        return sum(p in truth for p in zip(a.src.tolist(), a.tgt.tolist())) / len(a.src)

    kept = full.accepted()
    assert 0 < len(kept.src) < len(full.src)
    assert precision(kept) >= 0.8
    assert precision(kept) > precision(full)
    quality = result['alignment']['quality']
    assert quality['accepted']['precision'] >= quality['all']['precision']
    assert result['alignment']['accepted'] == len(kept.src) and result['evaluation'] == 'test links'


def test_align_and_report_without_test_links_skips_the_evaluation(pair):
    data = pair.clone()
    data[SAME_AS].test_mask = torch.zeros_like(data[SAME_AS].test_mask)
    decoded, result = align_and_report(data, **{**SMALL, 'budget': 30, 'epochs': 1})
    assert result['evaluation'].startswith('skipped') and 'no test links' in result['evaluation']
    assert 'cosine' not in result and 'quality' not in result['alignment']
    assert len(decoded.src) == min(data['src'].num_nodes, data['tgt'].num_nodes)
