"""Exact greedy one-to-one matching over a dense similarity that is never materialised."""
import logging
from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import index_to_mask

from psqe_pyg.ops.matching import greedy_match, tie_break_order
from psqe_pyg.ops.sim_topk import sim_topk

log = logging.getLogger(__name__)


class Matches(NamedTuple):
    """One-to-one pairs in acceptance order: ``row``/``col`` ``[S]`` int64 ids, ``score`` ``[S]``."""
    row: Tensor  # [S] int64
    col: Tensor  # [S] int64
    score: Tensor  # [S]


def greedy_dense_match(x: Tensor, y: Tensor, limit: int, *, k: int = 16, max_k: int = 1 << 24,
                       seed: int | None = 0, backend: str = 'auto') -> Matches:
    r"""Greedy one-to-one matching on ``S = x @ y.T`` without holding ``S``.

    Selects exactly what the sequential walk over all ``N x M`` pairs by descending score selects, stopping
    after ``limit`` pairs. Exact ties are taken in a random order of the rows, then of the columns, drawn
    from ``seed`` (:func:`~psqe_pyg.ops.matching.tie_break_order`); ``seed=None`` takes them by position (lower row, then lower
    column first). It walks the union of every free row's
    top-``k`` free columns: the walk is exact while its score stays above
    :math:`\tau = \max_r s_r^{(k)}` over rows ``r`` that end unmatched with a full candidate list, since
    every unseen pair of ``r`` scores at most its ``k``-th best :math:`s_r^{(k)}`. The valid prefix is kept,
    the candidates are recomputed over the rows and columns still free, and ``k`` grows when a round makes
    little progress.

    Args:
        x: ``[N, d]`` row features. y: ``[M, d]`` column features.
        limit: the most pairs to select.
        k: initial candidates per row.
        max_k: cap on the candidate count (rows x k) of one round. Only when the cap binds are pairs tied
            exactly at the bound accepted in candidate order rather than in (row, column) order.
        seed: the tie-breaking order's seed, or ``None`` for positional tie-breaking.
    Returns:
        :class:`Matches` in acceptance order, with row and column ids of ``x`` and ``y``.
    """
    if seed is not None:
        row_order = tie_break_order(x.size(0), seed, x.device)
        col_order = tie_break_order(y.size(0), seed + 1, y.device)
        m = greedy_dense_match(x[row_order], y[col_order], limit, k=k, max_k=max_k, seed=None, backend=backend)
        return Matches(row_order[m.row], col_order[m.col], m.score)
    rows = torch.arange(x.size(0), device=x.device)
    cols = torch.arange(y.size(0), device=y.device)
    out_r, out_c, out_s = [], [], []
    remaining = limit
    while remaining > 0 and rows.numel() > 0 and cols.numel() > 0:
        kk = min(k, cols.numel())
        top = sim_topk(x[rows], y[cols], kk, backend=backend)
        cand_r = rows.repeat_interleave(kk)
        cand_c = cols[top.indices.reshape(-1)]
        cand_s = top.values.reshape(-1)
        pos = greedy_match(cand_r, cand_c, cand_s)
        acc_r, acc_c, acc_s = cand_r[pos], cand_c[pos], cand_s[pos]

        complete = kk == cols.numel()
        if not complete:
            matched = index_to_mask(acc_r, size=x.size(0))
            kth = top.values[~matched[rows], -1]
            if kth.numel() > 0:
                # Ties at the bound are only trusted once the candidate lists cannot grow further.
                capped = kk >= max_k // max(rows.numel(), 1)
                valid = acc_s >= kth.max() if capped else acc_s > kth.max()
                n_valid = int(valid.long().cumprod(0).sum())  # acc_s is non-increasing
                acc_r, acc_c, acc_s = acc_r[:n_valid], acc_c[:n_valid], acc_s[:n_valid]

        take = min(remaining, acc_r.numel())
        out_r.append(acc_r[:take])
        out_c.append(acc_c[:take])
        out_s.append(acc_s[:take])
        remaining -= take
        if complete:  # the walk saw every pair: it matched until the limit or a side ran out
            break
        if take < max(1, limit // 100):
            k = min(2 * k, cols.numel(), max(k, max_k // max(rows.numel(), 1)))
        taken_r = index_to_mask(acc_r[:take], size=x.size(0))
        taken_c = index_to_mask(acc_c[:take], size=y.size(0))
        rows, cols = rows[~taken_r[rows]], cols[~taken_c[cols]]
        log.debug('greedy match round: %d accepted, %d to go, k=%d', take, remaining, k)
    if not out_r:
        empty = torch.empty(0, dtype=torch.long, device=x.device)
        return Matches(empty, empty, x.new_empty(0))
    return Matches(torch.cat(out_r), torch.cat(out_c), torch.cat(out_s))
