"""Exact greedy one-to-one matching over a dense similarity that is never materialised."""
import logging
from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import index_to_mask

from psqe_pyg.ops.matching import greedy_match, tie_break_order
from psqe_pyg.ops.rows import select_rows
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
    the candidates are recomputed over the rows and columns still free, and ``k`` doubles when a round makes
    little progress (fewer than ``max(1, limit // 100)`` pairs).

    Bounded memory and passes: one round holds at most ``max(max_k, rows)`` candidates (``max_k`` elements,
    default ``2**24``), plus :func:`~psqe_pyg.ops.sim_topk`'s tiles. When a round makes little progress
    although ``k`` has reached that budget (scores nearly tied everywhere, where :math:`\tau` sits just below
    the best scores and each exact round would accept a handful of pairs, so the number of full passes
    would grow with ``limit``), the matching switches to the *relaxed* walk for the remaining rounds: it
    accepts the whole greedy walk over the candidate lists, without the :math:`\tau` cut. Each relaxed
    round matches every free row whose top-``k`` columns are not all taken, so the rounds stay few
    (100k near-tied rows: 3 rounds, ``tests/test_memory_bounds.py``); the exact rounds before it are at most
    ``log2(max_k / k)`` slow ones plus 100 that each take ``limit // 100`` pairs. Pairs accepted by a
    relaxed round can differ from the exact walk only where a better pair lay beyond some row's top ``k``,
    i.e. among scores within the spread of the top ``k`` of a row. Matchings that never reach the budget
    (every benchmark here) are exact.

    Args:
        x: ``[N, d]`` row features. y: ``[M, d]`` column features (dense or sparse, see
            :func:`~psqe_pyg.ops.sim_topk`).
        limit: the most pairs to select.
        k: initial candidates per row.
        max_k: cap on the candidate count (rows x k) of one round. Only when the cap binds are pairs tied
            exactly at the bound accepted in candidate order rather than in (row, column) order, and, if
            progress stays low, the relaxed walk takes over (see above).
        seed: the tie-breaking order's seed, or ``None`` for positional tie-breaking.
    Returns:
        :class:`Matches` in acceptance order, with row and column ids of ``x`` and ``y``.
    """
    if seed is not None:
        row_order = tie_break_order(x.size(0), seed, x.device)
        col_order = tie_break_order(y.size(0), seed + 1, y.device)
        m = greedy_dense_match(select_rows(x, row_order), select_rows(y, col_order), limit, k=k, max_k=max_k,
                               seed=None, backend=backend)
        return Matches(row_order[m.row], col_order[m.col], m.score)
    rows = torch.arange(x.size(0), device=x.device)
    cols = torch.arange(y.size(0), device=y.device)
    out_r, out_c, out_s = [], [], []
    remaining, relaxed = limit, False
    while remaining > 0 and rows.numel() > 0 and cols.numel() > 0:
        kk = min(k, cols.numel())
        top = sim_topk(select_rows(x, rows), select_rows(y, cols), kk, backend=backend)
        cand_r = rows.repeat_interleave(kk)
        cand_c = cols[top.indices.reshape(-1)]
        cand_s = top.values.reshape(-1)
        pos = greedy_match(cand_r, cand_c, cand_s)
        acc_r, acc_c, acc_s = cand_r[pos], cand_c[pos], cand_s[pos]

        complete = kk == cols.numel()
        cap = max_k // max(rows.numel(), 1)
        if not complete and not relaxed:
            matched = index_to_mask(acc_r, size=x.size(0))
            kth = top.values[~matched[rows], -1]
            if kth.numel() > 0:
                # Ties at the bound are only trusted once the candidate lists cannot grow further.
                capped = kk >= cap
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
            if kk >= cap and not relaxed:  # k cannot grow within the budget: stop cutting at tau
                relaxed = True
                log.info('greedy match: %d pairs to go at the candidate budget (k=%d); relaxed walk from here',
                         remaining, kk)
            k = min(2 * k, cols.numel(), max(k, cap))
        taken_r = index_to_mask(acc_r[:take], size=x.size(0))
        taken_c = index_to_mask(acc_c[:take], size=y.size(0))
        rows, cols = rows[~taken_r[rows]], cols[~taken_c[cols]]
        log.debug('greedy match round: %d accepted, %d to go, k=%d, relaxed=%s', take, remaining, k, relaxed)
    if not out_r:
        empty = torch.empty(0, dtype=torch.long, device=x.device)
        return Matches(empty, empty, torch.empty(0, dtype=x.dtype, device=x.device))
    return Matches(torch.cat(out_r), torch.cat(out_c), torch.cat(out_s))
