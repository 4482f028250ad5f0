"""The similarity join across ranks: each rank scores every query row against its shard of the target rows,
and the per-rank top-k lists are merged after an all-gather (``P`` lists of ``k`` per row, never ``N x M``).

Shard boundaries fall on the backend's column tiles, so every rank computes exactly the score tiles the single
process computes for its columns; the merge orders by value descending, ties by the lower global index (the
ops' contract), so the merged top-k equals the single-process result bit for bit, tie order included.
"""
from collections.abc import Callable

import torch
from torch import Tensor

from psqe_pyg.distributed import comm
from psqe_pyg.ops import reference
from psqe_pyg.ops.rows import is_sparse, select_rows

# Column-tile width of each backend's default tiling (csrc/ops.h kDefaultTileCols for the CPU kernel, the
# reference's DEFAULT_TILE_COLS, and the CUDA kernel's unfused 8192 columns, a multiple of its fused 64).
_DEFAULT_TILE_COLS = {('cpp', 'cpu'): 2048, 'torch': reference.DEFAULT_TILE_COLS, 'cuda': 8192}
# Elements of one all-gathered chunk of top-k lists (values and indices), bounding the merge's memory.
GATHER_ELEMENTS = 1 << 24

LocalJoin = Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor, Tensor]]


def column_align(impl: str, device: torch.device, tile_cols: int) -> int:
    """The shard granularity for backend ``impl`` on ``device``: its column tile (``tile_cols`` when given).
    faiss has no tiles (its scores are its own; the merge is still exact for the scores it returns)."""
    if tile_cols > 0:
        return tile_cols
    if impl == 'faiss':
        return 1
    if impl == 'torch':
        return _DEFAULT_TILE_COLS['torch']
    return _DEFAULT_TILE_COLS[('cpp', 'cpu')] if device.type == 'cpu' else _DEFAULT_TILE_COLS['cuda']


def merge_topk(values: Tensor, indices: Tensor, kk: int) -> tuple[Tensor, Tensor]:
    """All ranks' sorted lists ``values/indices [n, kk]`` (this rank's, padded) merged: ``[n, kk]`` per row, by
    value descending, ties by the lower index; gathered in row chunks of :data:`GATHER_ELEMENTS`."""
    p = comm.world_size()
    n = values.size(0)
    chunk = max(1, GATHER_ELEMENTS // max(1, p * kk))
    out_v, out_i = torch.empty_like(values), torch.empty_like(indices)
    for r0 in range(0, n, chunk):
        v, i = values[r0:r0 + chunk].contiguous(), indices[r0:r0 + chunk].contiguous()
        vs, is_ = [torch.empty_like(v) for _ in range(p)], [torch.empty_like(i) for _ in range(p)]
        torch.distributed.all_gather(vs, v)
        torch.distributed.all_gather(is_, i)
        mv, mi = reference.order_desc(torch.cat(vs, 1), torch.cat(is_, 1))
        out_v[r0:r0 + chunk], out_i[r0:r0 + chunk] = mv[:, :kk], mi[:, :kk]
    return out_v, out_i


def sharded_sim_topk(local: LocalJoin, x: Tensor, y: Tensor, k: int, col_best: bool,
                     align: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`psqe_pyg.ops.sim_topk` over the ranks of the default group, every rank holding the same ``x [N, d]``
    and ``y [M, d]``.

    ``local(x, y_shard)`` is the single-process join (``y`` may be sparse: its shard is gathered sparse) (it returns values, indices local to the shard, column best
    values and rows); this rank runs it on its shard of ``y`` (:func:`~psqe_pyg.distributed.comm.shard_range`
    with ``align``). float16/bfloat16 inputs are joined in float32 (as the kernels score them) and the merged
    values rounded back, so ties are judged on the same scores as in one process. Returns the merged
    ``values/indices [N, min(k, M)]`` and, with ``col_best``, the gathered ``col_values/col_indices [M]``
    (empty otherwise), identical on every rank.
    """
    n, m = x.size(0), y.size(0)
    kk = min(k, m)
    dtype = x.dtype
    if dtype in (torch.float16, torch.bfloat16):
        x, y = x.float(), y.float()
    start, end = comm.shard_range(m, align)
    if end > start:
        shard = select_rows(y, torch.arange(start, end, device=y.device)) if is_sparse(y) else y[start:end]
        values, indices, col_values, col_indices = local(x, shard)
        indices = indices + start
    else:  # nothing to score here: an empty list (the kernels need not accept an empty y)
        values = torch.empty(n, 0, dtype=x.dtype, device=x.device)
        indices = torch.empty(n, 0, dtype=torch.long, device=x.device)
        col_values = torch.empty(0, dtype=x.dtype, device=x.device)
        col_indices = torch.empty(0, dtype=torch.long, device=x.device)
    if kk > 0:
        pad = kk - values.size(1)  # this shard has fewer than k columns: pad with -inf at index m (sorts last)
        if pad > 0:
            values = torch.cat([values, values.new_full((n, pad), float('-inf'))], 1)
            indices = torch.cat([indices, indices.new_full((n, pad), m)], 1)
        values, indices = merge_topk(values, indices, kk)
    if col_best:
        sizes = comm.shard_sizes(m, align)
        col_values = comm.all_gather_rows(col_values, sizes)
        col_indices = comm.all_gather_rows(col_indices, sizes)
    return values.to(dtype), indices, col_values.to(dtype), col_indices
