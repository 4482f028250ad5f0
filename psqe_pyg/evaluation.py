r"""Evaluation of an alignment on one split of the gold links (DESIGN §5): ranking metrics in both directions
with cosine and CSLS against two candidate sets, global one-to-one decoding, and accuracy by entity degree
(sparse against dense regions).

The gold links are read here, for evaluation only; no seed generator or aligner sees them. Two splits:

* ``'val'``: the links under ``train_mask`` (DBP15K's 30%, SRPRS's ``sup``), which unsupervised runs never
  read: every choice (hyper-parameters, weights, thresholds) is made on them;
* ``'test'``: the links under ``test_mask``, for final tables only.
"""
import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg import metrics
from psqe_pyg._deprecation import moved
from psqe_pyg.decoding import DECODERS, MAX_ASSIGNMENT_SIZE
from psqe_pyg.ops.matching import tie_break_order
from psqe_pyg.pair.schema import SAME_AS

log = logging.getLogger(__name__)

__getattr__ = moved(__name__, (), renamed={'GOLD_EDGE': 'psqe_pyg.pair.schema:SAME_AS'})
SPLITS = {'test': 'test_mask', 'val': 'train_mask'}


def gold_links(data: HeteroData, split: str = 'test') -> Tensor:
    """The gold links ``[2, L]`` of one split: ``data['src', 'same_as', 'tgt'].edge_index[:, mask]`` with
    ``mask = test_mask`` for ``'test'`` (all gold links when the pair has no ``test_mask``) and
    ``train_mask`` for ``'val'``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)} (got {split!r})")
    if SAME_AS not in data.edge_types:
        raise ValueError(f'the pair has no gold links {SAME_AS}: nothing to evaluate against')
    store = data[SAME_AS]
    mask = SPLITS[split]
    if mask in store:
        links = store.edge_index[:, store[mask]]
    elif split == 'test':
        links = store.edge_index
    else:
        raise ValueError(f"the pair's gold links {SAME_AS} have no {mask}: no validation links (split='val')")
    if links.size(1) == 0:
        raise ValueError(f"the pair has gold links {SAME_AS} but no {split} links: nothing to evaluate against")
    return links


def one_to_one_accuracy(src_emb: Tensor, tgt_emb: Tensor, links: Tensor, decoder: str = 'greedy', *,
                        candidates: str = 'links', seed: int = 0) -> float:
    """Hits@1 after one-to-one decoding by cosine: the share of ``links [2, L]`` whose source the
    ``decoder`` (a key of :data:`psqe_pyg.decoding.DECODERS`) matches to its own target.

    ``candidates='links'`` decodes between the links' sources and targets, ``'all'`` between every entity
    of both KGs. Sources and targets are presented in random orders (``seed``), so a decoder's positional
    tie-breaking cannot favour the gold pairs: tied candidates win by chance, not by link order.
    """
    if decoder not in DECODERS:
        raise ValueError(f'decoder must be one of {tuple(DECODERS)} (got {decoder!r})')
    if candidates not in metrics.CANDIDATE_SETS:
        raise ValueError(f'candidates must be one of {metrics.CANDIDATE_SETS} (got {candidates!r})')
    L = links.size(1)
    if L == 0:
        raise ValueError('one_to_one_accuracy: links is empty, the accuracy is undefined')
    if candidates == 'links':
        src_emb, tgt_emb = src_emb[links[0]], tgt_emb[links[1]]
        links = torch.arange(L, device=links.device).expand(2, L)
    x = F.normalize(src_emb.float(), dim=-1)
    y = F.normalize(tgt_emb.float(), dim=-1)
    row_order = tie_break_order(x.size(0), seed, x.device)
    col_order = tie_break_order(y.size(0), seed + 1, y.device)
    match = DECODERS[decoder](x[row_order], y[col_order])
    partner = torch.full((x.size(0),), -1, dtype=torch.long, device=x.device)
    partner[row_order[match.row.to(x.device)]] = col_order[match.col.to(x.device)]
    return float((partner[links[0].to(x.device)] == links[1].to(x.device)).sum()) / L


def _one_to_one(src_emb: Tensor, tgt_emb: Tensor, links: Tensor, decoders: Sequence[str], candidates: str,
                seed: int) -> dict[str, float | None]:
    """``{decoder: Hits@1}``; ``None`` for the assignment when a side exceeds its size limit."""
    out: dict[str, float | None] = {}
    sizes = (links.size(1),) if candidates == 'links' else (src_emb.size(0), tgt_emb.size(0))
    for name in decoders:
        if name == 'assignment' and max(sizes) > MAX_ASSIGNMENT_SIZE:
            log.info('one-to-one (%s): no exact assignment for %s entities a side (limit %d)', candidates,
                     ' x '.join(map(str, sizes)), MAX_ASSIGNMENT_SIZE)
            out[name] = None
            continue
        out[name] = one_to_one_accuracy(src_emb, tgt_emb, links, name, candidates=candidates, seed=seed)
    return out


def evaluate_alignment(data: HeteroData, src_emb: Tensor, tgt_emb: Tensor, *, split: str = 'test',
                       csls_k: int | None = 10, one_to_one: bool | Sequence[str] = True,
                       all_candidates: bool = True, degree_groups: int = 3, ks: tuple[int, ...] = (1, 5, 10), seed: int = 0) -> dict:
    """Scores entity embeddings ``src_emb [N_src, d]``, ``tgt_emb [N_tgt, d]`` on the gold links of ``split``
    (``'val'`` for every choice, ``'test'`` for final tables; see the module docstring).

    Ranks are pessimistic (:mod:`psqe_pyg.metrics`). Two candidate sets: the links' own ends (the customary
    one, comparable with the literature) and, with ``all_candidates`` (the default), ``'all'``, every entity
    of the other KG: each of its joins is ``N_src x N_tgt`` rather than ``L x L``, so a run at scale may
    leave it out (the ``*_all`` entries are then absent). ``one_to_one``: the
    decoders to score (``True``: all of :data:`psqe_pyg.decoding.DECODERS`; ``False``: none), each
    in every candidate set (the exact assignment only up to
    :data:`~psqe_pyg.decoding.MAX_ASSIGNMENT_SIZE` entities a side, else ``None``); ``seed`` shuffles the
    targets for them (:func:`one_to_one_accuracy`).

    Returns ``{'split', 'num_links': L, 'cosine': ranking_metrics, 'csls': ... (with ``csls_k``),
    'cosine_all', 'csls_all': the same against all entities (with ``all_candidates``),
    'one_to_one': {decoder: Hits@1}, 'one_to_one_all': {decoder: Hits@1}, 'one_to_one_hits@1': the greedy one (kept for older readers),
    'by_degree': [{'degree': [lo, hi], 'count', 'hits@1', ...}] (cosine, src->tgt, the links' own ends as
    candidates, sources in ``degree_groups`` quantile buckets of their degree, sparsest first)}``.
    """
    links = gold_links(data, split)
    out = {'split': split, 'num_links': int(links.size(1))}
    candidate_sets = (('links', ''), ('all', '_all')) if all_candidates else (('links', ''),)
    for candidates, suffix in candidate_sets:
        out['cosine' + suffix] = metrics.ranking_metrics(src_emb, tgt_emb, links, ks=ks, candidates=candidates,
                                                         return_ranks=candidates == 'links')
        if csls_k is not None:
            out['csls' + suffix] = metrics.ranking_metrics(src_emb, tgt_emb, links, ks=ks, csls_k=csls_k,
                                                           candidates=candidates)
    ranks = out['cosine'].pop('ranks')['src->tgt']
    decoders = tuple(DECODERS) if one_to_one is True else tuple(one_to_one or ())
    if decoders:
        for candidates, suffix in candidate_sets:
            out['one_to_one' + suffix] = _one_to_one(src_emb, tgt_emb, links, decoders, candidates, seed)
        if 'greedy' in decoders:
            out['one_to_one_hits@1'] = out['one_to_one']['greedy']
    degree = metrics.degree(data, 'src')[links[0]]
    groups = metrics.degree_buckets(degree, degree_groups)
    out['by_degree'] = [
        {'degree': [int(degree[groups == g].min()), int(degree[groups == g].max())] if row['count'] else None,
         **row} for g, row in enumerate(metrics.grouped_ranking_metrics(ranks, groups, degree_groups, ks))
    ]
    return out
