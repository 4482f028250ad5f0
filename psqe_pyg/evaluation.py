r"""Evaluation of an alignment on the pair's test links (DESIGN §5): ranking metrics in both directions, with
cosine and CSLS, one-to-one decoding, and accuracy by entity degree (sparse against dense regions).

The gold links are read here, for evaluation only; no seed generator or aligner sees them.
"""
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg import metrics
from psqe_pyg.transforms.matching import greedy_dense_match

GOLD_EDGE = ('src', 'same_as', 'tgt')


def gold_test_links(data: HeteroData) -> Tensor:
    """The test links ``[2, L]``: ``data['src', 'same_as', 'tgt'].edge_index[:, test_mask]`` (all gold links
    when the pair has no ``test_mask``). Raises a ValueError when the pair has no gold or no test links."""
    if GOLD_EDGE not in data.edge_types:
        raise ValueError(f'the pair has no gold links {GOLD_EDGE}: nothing to evaluate against')
    store = data[GOLD_EDGE]
    links = store.edge_index
    links = links[:, store.test_mask] if 'test_mask' in store else links
    if links.size(1) == 0:
        raise ValueError(f'the pair has gold links {GOLD_EDGE} but no test links: nothing to evaluate against')
    return links


def one_to_one_accuracy(src_emb: Tensor, tgt_emb: Tensor, links: Tensor) -> float:
    """Hits@1 after one-to-one decoding: greedy matching by cosine between the test links' sources and
    targets (each used once); the share of links whose source is matched to its own target."""
    if links.size(1) == 0:
        raise ValueError('one_to_one_accuracy: links is empty, the accuracy is undefined')
    s = torch.nn.functional.normalize(src_emb[links[0]].float(), dim=-1)
    t = torch.nn.functional.normalize(tgt_emb[links[1]].float(), dim=-1)
    match = greedy_dense_match(s, t, links.size(1))
    return float((match.row == match.col).sum()) / links.size(1)


def evaluate_alignment(data: HeteroData, src_emb: Tensor, tgt_emb: Tensor, *, csls_k: int | None = 10,
                       one_to_one: bool = True, degree_groups: int = 3, ks: tuple[int, ...] = (1, 5, 10)) -> dict:
    """Scores entity embeddings ``src_emb [N_src, d]``, ``tgt_emb [N_tgt, d]`` on the test links.

    Returns ``{'cosine': ranking_metrics, 'csls': ... (with ``csls_k``), 'one_to_one_hits@1': ...,
    'by_degree': [{'degree': [lo, hi], 'count', 'hits@1', ...}] (cosine, src->tgt, test sources in
    ``degree_groups`` quantile buckets of their degree, sparsest first), 'num_links': L}``.
    """
    links = gold_test_links(data)
    out = {'num_links': int(links.size(1))}
    cosine = metrics.ranking_metrics(src_emb, tgt_emb, links, ks=ks, return_ranks=True)
    ranks = cosine.pop('ranks')['src->tgt']
    out['cosine'] = cosine
    if csls_k is not None:
        out['csls'] = metrics.ranking_metrics(src_emb, tgt_emb, links, ks=ks, csls_k=csls_k)
    if one_to_one:
        out['one_to_one_hits@1'] = one_to_one_accuracy(src_emb, tgt_emb, links)
    degree = metrics.degree(data, 'src')[links[0]]
    groups = metrics.degree_buckets(degree, degree_groups)
    out['by_degree'] = [
        {'degree': [int(degree[groups == g].min()), int(degree[groups == g].max())] if row['count'] else None,
         **row} for g, row in enumerate(metrics.grouped_ranking_metrics(ranks, groups, degree_groups, ks))
    ]
    return out
