"""Exact greedy one-to-one matching over a dense similarity that is never materialised."""
import logging
import math
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


#: Rows per block once the exact rounds stall (each block keeps its rows' top-``ROW_BLOCK`` free columns).
ROW_BLOCK = 64


def _row_block_match(x: Tensor, y: Tensor, rows: Tensor, cols: Tensor, limit: int, block: int,
                     backend: str) -> Matches:
    """Up to ``limit`` pairs between the free ``rows`` and ``cols``: rows in descending order of their best score
    (ties: lower id), ``block`` at a time, each block matched greedily over its top-``block`` free columns.
    Holds ``block^2`` candidates; scores every free (row, column) pair at most twice."""
    best = sim_topk(select_rows(x, rows), select_rows(y, cols), 1, backend=backend).values[:, 0]
    order = rows[torch.argsort(best, descending=True, stable=True)]
    out_r, out_c, out_s = [], [], []
    for start in range(0, order.numel(), block):
        if limit <= 0 or cols.numel() == 0:
            break
        r = order[start:start + block]
        kk = min(block, cols.numel())  # >= the block's rows: every row keeps a free candidate
        top = sim_topk(select_rows(x, r), select_rows(y, cols), kk, backend=backend)
        cand_r, cand_c = r.repeat_interleave(kk), cols[top.indices.reshape(-1)]
        cand_s = top.values.reshape(-1)
        pos = greedy_match(cand_r, cand_c, cand_s, limit)
        out_r.append(cand_r[pos])
        out_c.append(cand_c[pos])
        out_s.append(cand_s[pos])
        limit -= pos.numel()
        cols = cols[~index_to_mask(cand_c[pos], size=y.size(0))[cols]]
    if not out_r:
        empty = torch.empty(0, dtype=torch.long, device=x.device)
        return Matches(empty, empty, torch.empty(0, dtype=x.dtype, device=x.device))
    return Matches(torch.cat(out_r), torch.cat(out_c), torch.cat(out_s))


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
    default ``2**24``), plus :func:`~psqe_pyg.ops.sim_topk`'s tiles. Exact rounds can stall: when every row
    ranks the same few columns first (scores near-tied with a shared column bias, ``s = a_r + b_c``), each
    round certifies about ``k`` pairs, so the passes would grow as ``limit / k`` (a million rows: ``k = 16``,
    tens of thousands of full passes; no exact method with ``O(max_k)`` candidates certifies more than
    about ``sqrt(2 max_k)`` pairs a pass there). So once a round accepts fewer than ``max(1, limit // 100)``
    pairs although ``k`` has reached the budget, the rest is matched *by row blocks*
    (:func:`_row_block_match`): the free rows in descending order of their best score,
    ``B = min(ROW_BLOCK, isqrt(max_k))`` (64) at a time, each block walked greedily over its top-``B`` free columns (so every row of a block is matched
    while columns remain). That costs one pass for the order plus one pass over the free columns in all:
    at most ``log2(max_k / k) + 3`` full passes after the fast exact rounds (each of which takes
    ``limit // 100`` pairs, so at most 100). It equals the exact walk when the row order is the walk's order
    (as with a shared column bias); otherwise a row of a later block may lose a column to an earlier row
    whose pair scored less. Matchings that never reach the budget (every benchmark here) are exact.

    Args:
        x: ``[N, d]`` row features. y: ``[M, d]`` column features (dense or sparse, see
            :func:`~psqe_pyg.ops.sim_topk`).
        limit: the most pairs to select.
        k: initial candidates per row.
        max_k: cap on the candidate count (rows x k) of one round. Only when the cap binds are pairs tied
            exactly at the bound accepted in candidate order rather than in (row, column) order, and, if
            progress stays low, the row blocks take over (see above).
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
    remaining = limit
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
        if not complete:
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
        taken_r = index_to_mask(acc_r[:take], size=x.size(0))
        taken_c = index_to_mask(acc_c[:take], size=y.size(0))
        rows, cols = rows[~taken_r[rows]], cols[~taken_c[cols]]
        log.debug('greedy match round: %d accepted, %d to go, k=%d', take, remaining, k)
        if take < max(1, limit // 100):
            if kk >= cap and remaining > 0:  # k cannot grow within the budget: the exact rounds would stall
                log.info('greedy match: %d pairs to go at the candidate budget (k=%d): by row blocks', remaining, kk)
                block = _row_block_match(x, y, rows, cols, remaining, min(ROW_BLOCK, max(1, math.isqrt(max_k))),
                                         backend)
                out_r.append(block.row)
                out_c.append(block.col)
                out_s.append(block.score)
                break
            k = min(2 * k, cols.numel(), max(k, cap))
    if not out_r:
        empty = torch.empty(0, dtype=torch.long, device=x.device)
        return Matches(empty, empty, torch.empty(0, dtype=x.dtype, device=x.device))
    return Matches(torch.cat(out_r), torch.cat(out_c), torch.cat(out_s))
