r"""The predicted alignment of a KG pair: one-to-one decoding over all entities of both KGs, each pair's
mutual-nearest-neighbour flag, and a "no counterpart" threshold chosen without gold links.

The threshold (:func:`no_counterpart_threshold`) splits the decoded pairs' scores in two with Otsu's method:
after one-to-one decoding every source gets a target while one is free, so the entities without a
counterpart (and the sources the model cannot place) end up in pairs with lower cosine than the pairs the
model is sure of. The cut is the score that best separates the two groups (largest between-class variance
of the score histogram). It reads only the scores, never a gold link.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg import ops
from psqe_pyg.ops.dense_match import greedy_dense_match

HEADER = ('src', 'tgt', 'score', 'mutual')


class Alignment(NamedTuple):
    """Decoded pairs, best first: ``src``/``tgt`` ``[P]`` entity ids, ``score`` ``[P]`` the cosine of their
    embeddings, ``mutual`` ``[P]`` (bool) whether the two are each other's nearest neighbour among all
    entities (before decoding), and the no-counterpart ``threshold`` (``None`` when none was chosen)."""
    src: Tensor
    tgt: Tensor
    score: Tensor
    mutual: Tensor
    threshold: float | None

    def accepted(self) -> Alignment:
        """The pairs at or above :attr:`threshold` (all of them when it is ``None``)."""
        if self.threshold is None:
            return self
        keep = self.score >= self.threshold
        return Alignment(self.src[keep], self.tgt[keep], self.score[keep], self.mutual[keep], self.threshold)

    def rows(self, data: HeteroData) -> list[tuple[str, str, float, bool]]:
        """``(src, tgt, score, mutual)`` per pair, entities as written in the input (``data[side].uri``)."""
        src_uri, tgt_uri = entity_labels(data, 'src'), entity_labels(data, 'tgt')
        return [(src_uri[s], tgt_uri[t], sc, m) for s, t, sc, m in
                zip(self.src.tolist(), self.tgt.tolist(), self.score.tolist(), self.mutual.tolist())]


def entity_labels(data: HeteroData, side: str) -> list[str]:
    """How the input names ``side``'s entities: ``data[side].uri``, else the entity ids as strings."""
    store = data[side]
    if 'uri' in store:
        return list(store.uri)
    return [str(i) for i in range(store.num_nodes)]


def otsu_threshold(scores: Tensor, bins: int = 256) -> float:
    r"""Otsu's threshold of ``scores`` ``[P]``: the cut between two histogram bins that maximises the
    between-class variance :math:`w_0 w_1 (\mu_0 - \mu_1)^2` of the scores below and above it.

    Returns the left edge of the first bin above the cut (so ``scores >= t`` is the upper class), or the
    smallest score when the scores cannot be split (fewer than two distinct values).
    """
    scores = scores.detach().double().view(-1)
    if scores.numel() == 0:
        raise ValueError('otsu_threshold: scores is empty')
    lo, hi = float(scores.min()), float(scores.max())
    if hi <= lo:
        return lo
    hist = torch.histc(scores, bins=bins, min=lo, max=hi)
    centers = lo + (torch.arange(bins, dtype=torch.float64, device=scores.device) + 0.5) * (hi - lo) / bins
    w0 = hist.cumsum(0)[:-1]  # scores in bins 0..i, for a cut after bin i
    w1 = hist.sum() - w0
    m0 = (hist * centers).cumsum(0)[:-1]
    m1 = (hist * centers).sum() - m0
    valid = (w0 > 0) & (w1 > 0)
    between = torch.where(valid, w0 * w1 * (m0 / w0.clamp(min=1) - m1 / w1.clamp(min=1)) ** 2,
                          torch.full_like(w0, -1.0))
    cut = int(between.argmax())
    return lo + (cut + 1) * (hi - lo) / bins


def no_counterpart_threshold(scores: Tensor) -> float:
    """The score below which a decoded pair is judged to have no counterpart: :func:`otsu_threshold` of
    the decoded pairs' scores ``[P]`` (see the module docstring). Reads no gold link."""
    return otsu_threshold(scores)


def predict_alignment(src_emb: Tensor, tgt_emb: Tensor, *, threshold: float | str | None = 'auto',
                      seed: int = 0, backend: str = 'auto') -> Alignment:
    """One-to-one alignment of all ``N_src`` sources and ``N_tgt`` targets by cosine.

    Decodes with the exact greedy matching (:func:`~psqe_pyg.ops.greedy_dense_match`, which
    never holds an ``N_src x N_tgt`` matrix): ``min(N_src, N_tgt)`` pairs, best first. Flags each pair that
    is a mutual nearest neighbour (:func:`psqe_pyg.ops.mutual_nn`).

    Args:
        src_emb: ``[N_src, d]`` source embeddings. tgt_emb: ``[N_tgt, d]`` target embeddings.
        threshold: ``'auto'`` (:func:`no_counterpart_threshold` of the decoded scores), a number, or
            ``None`` (no threshold). The returned table holds every decoded pair;
            :meth:`Alignment.accepted` keeps those at or above the threshold.
        seed: the order in which exactly tied pairs are taken.
        backend: the ops backend (see :mod:`psqe_pyg.ops`).
    """
    if src_emb.dim() != 2 or tgt_emb.dim() != 2 or src_emb.size(1) != tgt_emb.size(1):
        raise ValueError(f'predict_alignment: expected src_emb [N_src, d] and tgt_emb [N_tgt, d], got shapes '
                         f'{tuple(src_emb.shape)} and {tuple(tgt_emb.shape)}')
    s = torch.nn.functional.normalize(src_emb.detach().float(), dim=-1)
    t = torch.nn.functional.normalize(tgt_emb.detach().float(), dim=-1)
    match = greedy_dense_match(s, t, min(s.size(0), t.size(0)), seed=seed, backend=backend)
    mnn = ops.mutual_nn(s, t, backend=backend)
    partner = torch.full((s.size(0),), -1, dtype=torch.long, device=s.device)
    partner[mnn.row] = mnn.col
    mutual = partner[match.row] == match.col.to(partner.device)
    if threshold == 'auto':
        threshold = no_counterpart_threshold(match.score) if match.score.numel() else None
    elif threshold is not None and not isinstance(threshold, (int, float)):
        raise ValueError(f"predict_alignment: threshold must be 'auto', a number or None, got {threshold!r}")
    return Alignment(match.row, match.col, match.score, mutual,
                     None if threshold is None else float(threshold))


def alignment_quality(alignment: Alignment, links: Tensor) -> dict:
    """Precision, recall and F1 of the pairs of ``alignment`` as a set, against the links ``[2, L]``.

    Precision counts only the pairs that touch a link: whose source or target is an end of one of the
    links (the others, e.g. entities outside the gold links, cannot be verified). Recall is the share of the
    links among the pairs. Returns ``{'pairs', 'verifiable', 'correct', 'links', 'precision', 'recall',
    'f1'}``; the ratios are ``None`` when undefined (no verifiable pair, no link).
    """
    src, tgt, links = alignment.src.cpu(), alignment.tgt.cpu(), links.cpu()
    ids = [torch.cat([src, links[0]]), torch.cat([tgt, links[1]])]
    link_of = torch.full((int(ids[0].max()) + 1 if ids[0].numel() else 0,), -1, dtype=torch.long)
    link_of[links[0]] = links[1]
    tgt_linked = torch.zeros(int(ids[1].max()) + 1 if ids[1].numel() else 0, dtype=torch.bool)
    tgt_linked[links[1]] = True
    correct = int((link_of[src] == tgt).sum())
    num_verifiable = int(((link_of[src] >= 0) | tgt_linked[tgt]).sum())
    precision = correct / num_verifiable if num_verifiable else None
    recall = correct / links.size(1) if links.size(1) else None
    f1 = (2 * precision * recall / (precision + recall) if precision and recall else
          0.0 if precision is not None and recall is not None else None)
    return {'pairs': int(src.numel()), 'verifiable': num_verifiable, 'correct': correct,
            'links': int(links.size(1)), 'precision': precision, 'recall': recall, 'f1': f1}


def write_alignment(alignment: Alignment, path: str | os.PathLike, data: HeteroData) -> int:
    """Writes ``alignment`` as a tab-separated file with the header ``src<TAB>tgt<TAB>score<TAB>mutual``,
    one row per pair in the table's order (best first), entities as written in the input files
    (``data['src'].uri`` / ``data['tgt'].uri``), the score with 6 decimals and mutual as ``true``/``false``.
    Returns the number of rows written."""
    rows = alignment.rows(data)
    for s, t, _, _ in rows:
        if any(c in e for e in (s, t) for c in '\t\n\r'):
            raise ValueError(f'write_alignment: entity {s!r} or {t!r} holds a tab or line break; it cannot be '
                             'written as a TSV field')
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write('\t'.join(HEADER) + '\n')
        for s, t, score, mutual in rows:
            f.write(f"{s}\t{t}\t{score:.6f}\t{'true' if mutual else 'false'}\n")
    return len(rows)
