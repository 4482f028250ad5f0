"""Lloyd iterations across ranks, equal bit for bit to one process.

Per iteration each rank assigns its shard of the rows (the ``N x k x d`` GEMM; shards on the assignment's
256-row tiles, so every row meets the same tile as in one process) and the assignments are all-gathered
(``N`` int64). The float64 cluster sums are then split by feature column: each rank sums its columns over all
rows in row order, as the single-process kernels do, and the ``[k, d]`` sums are all-reduced (each column comes
from one rank, so the reduction adds zeros and is exact). Summing row shards instead would reassociate the
float64 sums and could move a centroid by an ulp. k-means++ seeding stays on every rank (``k`` sequential draws).
"""
from collections.abc import Callable

import torch
from torch import Tensor

from psqe_pyg.distributed import comm
from psqe_pyg.ops import reference

ASSIGN_ROWS = 256  # the assignment tile of the CPU kernel and of the reference (reference._ASSIGN_ROWS)

Lloyd = Callable[[Tensor, Tensor, int, float], tuple[Tensor, Tensor, float]]


def _column_sums(x: Tensor, assignment: Tensor, k: int) -> Tensor:
    """``[k, d]`` float64 sums of x's rows per cluster, this rank's feature columns only (zeros elsewhere),
    each element summed over the rows in row order; all-reduced over the ranks."""
    n, d = x.shape
    j0, j1 = comm.shard_range(d)
    sums = torch.zeros(k, d, dtype=torch.float64, device=x.device)
    part = torch.zeros(k, j1 - j0, dtype=torch.float64, device=x.device)
    chunk = reference.rows_per_chunk(max(1, j1 - j0))
    for i in range(0, n, chunk):
        part.index_add_(0, assignment[i:i + chunk], x[i:i + chunk, j0:j1].double())
    sums[:, j0:j1] = part
    return comm.all_reduce_sum(sums)


def lloyd(x: Tensor, centroids: Tensor, iters: int, tol: float, local: Lloyd,
          sequential_shift: bool) -> tuple[Tensor, Tensor, float]:
    """The Lloyd iterations of ``local`` (a ``kmeans_lloyd`` op: reference or kernel) over the ranks, every rank
    holding the same ``x [N, d]`` and ``centroids [k, d]``. ``local(rows, c, 0, tol)`` assigns a shard;
    ``sequential_shift`` sums each centroid's squared move in column order (the CPU kernel) instead of torch's
    reduction (the reference), so the stopping test sees the same float. The last assignment and the inertia
    come from ``local`` on all rows, as in one process. Returns ``(centroids, assignment [N], inertia)``."""
    n = x.size(0)
    k = centroids.size(0)
    c = centroids.clone()
    start, end = comm.shard_range(n, ASSIGN_ROWS)
    sizes = comm.shard_sizes(n, ASSIGN_ROWS)
    for _ in range(iters):
        if end > start:
            mine = local(x[start:end], c, 0, tol)[1]
        else:
            mine = torch.empty(0, dtype=torch.long, device=x.device)
        a = comm.all_gather_rows(mine, sizes)
        counts = torch.bincount(a, minlength=k)
        new = (_column_sums(x, a, k) / counts.clamp(min=1).unsqueeze(1).double()).to(x.dtype)
        new = torch.where((counts > 0).unsqueeze(1), new, c)  # an empty cluster keeps its centroid
        move = (new.double() - c.double()).pow(2)
        shift = float((move.cumsum(1)[:, -1] if sequential_shift else move.sum(1)).max())
        c = new
        if shift <= tol:
            break
    return local(x, c, 0, tol)
