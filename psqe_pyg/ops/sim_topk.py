"""Tiled top-k inner-product search (``sim_topk``) and mutual nearest neighbours (``mutual_nn``)."""
import math
from typing import NamedTuple

import torch
from torch import Tensor

from psqe_pyg.distributed import comm
from psqe_pyg.ops import _faiss, reference, sharded_join
from psqe_pyg.ops._backend import check_features, check_positive_int, resolve_backend
from psqe_pyg.ops.rows import TILE_ELEMS, gather_rows, is_sparse, to_csr

# Sparse inputs are scored on dense tiles whose rows / columns are multiples of every backend's own tile
# (256 / 512 rows, 2048 / 4096 / 8192 columns), so every score is computed by the GEMM shape the dense input
# would get: the result is the dense one bit for bit.
_ROW_ALIGN, _COL_ALIGN = 1024, 8192

BACKENDS = ('cpp', 'cuda', 'torch', 'faiss')


class SimTopK(NamedTuple):
    """Result of :func:`sim_topk`.

    ``values``/``indices`` ``[N, min(k, M)]``: per row of x, the best inner products against y and the y
    rows, sorted by value descending (ties: lower index first). ``col_values``/``col_indices`` ``[M]``
    (only with ``col_best=True``, else None): per row of y, the best inner product against x and the x
    row (ties: lower index; ``-inf``/``-1`` when x is empty).
    """
    values: Tensor
    indices: Tensor
    col_values: Tensor | None = None
    col_indices: Tensor | None = None


class MutualNN(NamedTuple):
    """Pairs ``(row[p], col[p])`` that are each other's top-1, sorted by row; ``score`` is their inner product."""
    row: Tensor
    col: Tensor
    score: Tensor


def _faiss_sim_topk(x: Tensor, y: Tensor, k: int, col_best: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    kk = min(k, y.size(0))
    gpu = _faiss.on_gpu(x.device, kk)
    xf, yf = _faiss.rows(x, gpu), _faiss.rows(y, gpu)

    def search(base, queries, n: int) -> tuple[Tensor, Tensor]:
        index = _faiss.flat_index(x.size(1), 'ip', x.device, gpu)
        with _faiss.stream(x.device, gpu):
            index.add(base)
            dist, idx = index.search(queries, n)
        return torch.as_tensor(dist).to(x.device, x.dtype), torch.as_tensor(idx).to(x.device, torch.long)

    values, indices = search(yf, xf, kk)
    if col_best:
        col_values, col_indices = (t[:, 0].contiguous() for t in search(xf, yf, 1))
    else:
        col_values = torch.empty(0, dtype=x.dtype, device=x.device)
        col_indices = torch.empty(0, dtype=torch.long, device=x.device)
    return values, indices, col_values, col_indices


def _aligned_rows(d: int, align: int) -> int:
    return max(align, TILE_ELEMS // max(d, 1) // align * align)


def _sparse_tiled(run, x: Tensor, y: Tensor, k: int, col_best: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``run`` over dense tiles of a sparse ``x`` and/or ``y`` (each within about :data:`TILE_ELEMS`
    elements), the per-tile top-k lists merged by value descending, ties by the lower index."""
    n, m, d = x.size(0), y.size(0), x.size(1)
    kk, dev = min(k, m), x.device
    rx, cy = _aligned_rows(d, _ROW_ALIGN), _aligned_rows(d, _COL_ALIGN)
    x, y = to_csr(x), to_csr(y)  # rows by pointer

    def tile(t: Tensor, start: int, size: int) -> Tensor:
        if not is_sparse(t):
            return t[start:start + size]
        return gather_rows(t, torch.arange(start, min(start + size, t.size(0)), device=dev))

    values = torch.empty(n, kk, dtype=x.dtype, device=dev)
    indices = torch.empty(n, kk, dtype=torch.long, device=dev)
    col_values = torch.full((m if col_best else 0,), -math.inf, dtype=x.dtype, device=dev)
    col_indices = torch.full((m if col_best else 0,), -1, dtype=torch.long, device=dev)
    if n == 0 or m == 0:
        return values, indices, col_values, col_indices
    for r0 in range(0, n, rx):
        xt = tile(x, r0, rx)
        run_v = run_i = None
        for c0 in range(0, m, cy):
            v, i, cv, ci = run(xt, tile(y, c0, cy))
            i = i + c0
            if run_v is None:
                run_v, run_i = v, i
            else:
                run_v, run_i = reference.order_desc(torch.cat([run_v, v], 1), torch.cat([run_i, i], 1))
                run_v, run_i = run_v[:, :kk], run_i[:, :kk]
            if col_best:  # earlier row tiles hold lower rows: they win ties
                best_v, best_i = col_values[c0:c0 + cy], col_indices[c0:c0 + cy]
                better = (cv > best_v) | (best_i < 0)
                best_v[better] = cv[better]
                best_i[better] = ci[better] + r0
        values[r0:r0 + rx], indices[r0:r0 + rx] = run_v, run_i
    return values, indices, col_values, col_indices


def sim_topk(x: Tensor, y: Tensor, k: int, *, col_best: bool = False, backend: str = 'auto',
             tile_rows: int = 0, tile_cols: int = 0) -> SimTopK:
    r"""Top-``k`` inner products of every row of ``x`` against the rows of ``y``, without an ``N x M`` matrix.

    Works tile by tile (``tile_rows`` x ``tile_cols`` scores at a time per worker), keeping a running
    top-k per row and, with ``col_best=True``, each y row's best x row in the same pass.

    Args:
        x: ``[N, d]`` floating (float16/bfloat16 are scored in float32; values come back in x's dtype),
            dense or sparse (COO/CSR, e.g. relation / attribute bags): a sparse input is scored on dense tiles
            of at most about :data:`~psqe_pyg.ops.rows.TILE_ELEMS` elements (default ``2**24``) aligned to the
            backend's tiles, so the result is the dense input's bit for bit and ``N x d`` is never densified.
        y: ``[M, d]`` with x's dtype and device, dense or sparse.
        k: neighbours per row, ``>= 1``; more than ``M`` gives ``M``.
        col_best: also return, per y row, the best x row.
        backend: ``'auto'`` (the compiled kernel for x's device if there is one, and on CUDA only once the
            CUDA kernels are verified, see :mod:`psqe_pyg.ops`; else ``'torch'``), ``'cpp'`` (the compiled
            ``torch.ops.psqe.sim_topk``), ``'cuda'`` (its CUDA kernel), ``'torch'`` (the tiled pure-torch
            reference), or ``'faiss'`` (exact ``IndexFlatIP`` in float32, a ``GpuIndexFlatIP`` for CUDA
            tensors when faiss has GPU support; its tie order is faiss's).
        tile_rows, tile_cols: tile shape; ``0`` picks the backend's default (a few MB per tile).

    Under an initialised torch.distributed group (e.g. ``torchrun``) every rank must call it with the same
    ``x`` and ``y``: each scores its shard of y's rows and the lists are merged
    (:mod:`psqe_pyg.ops.sharded_join`); the result is the single-process one, on every rank.

    Returns:
        :class:`SimTopK`.
    """
    who = 'sim_topk'
    check_features(x, 'x', who)
    check_features(y, 'y', who)
    if x.dtype != y.dtype:
        raise TypeError(f'{who}: x and y must have the same dtype, got {x.dtype} and {y.dtype}')
    if x.size(1) != y.size(1):
        raise ValueError(f'{who}: x and y must have the same feature dimension d, got x {tuple(x.shape)} '
                         f'and y {tuple(y.shape)}')
    if x.device != y.device:
        raise ValueError(f'{who}: x and y must be on the same device, got {x.device} and {y.device}')
    k = check_positive_int(k, 'k', who)
    impl = resolve_backend(who, backend, x.device, BACKENDS)
    if impl == 'faiss' and (x.size(0) == 0 or y.size(0) == 0):
        impl = 'torch'  # nothing to search: the reference handles the empty shapes

    def run(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if impl == 'cpp':
            return torch.ops.psqe.sim_topk(x, y, k, int(tile_rows), int(tile_cols), bool(col_best))
        if impl == 'faiss':
            return _faiss_sim_topk(x, y, k, col_best)
        return reference.sim_topk(x, y, k, int(tile_rows), int(tile_cols), bool(col_best))

    with torch.no_grad():
        local = run
        if is_sparse(x) or is_sparse(y):  # dense tiles of the sparse rows, per rank's shard when distributed
            local = lambda a, b: _sparse_tiled(run, a, b, k, col_best)  # noqa: E731
        if comm.is_distributed():  # y's rows sharded over the ranks, top-k lists merged
            tiles = sharded_join.column_align(impl, x.device, int(tile_cols))
            out = sharded_join.sharded_sim_topk(local, x, y, k, col_best, tiles)
        else:
            out = local(x, y)
    values, indices, col_values, col_indices = out
    if not col_best:
        col_values = col_indices = None
    return SimTopK(values, indices, col_values, col_indices)


def mutual_nn(x: Tensor, y: Tensor, *, backend: str = 'auto', tile_rows: int = 0, tile_cols: int = 0) -> MutualNN:
    """Mutual nearest neighbours by inner product: pairs ``(i, j)`` with ``j`` the best y row of x row ``i``
    and ``i`` the best x row of y row ``j`` (ties: lower index), found in one tiled pass of :func:`sim_topk`.
    """
    top = sim_topk(x, y, 1, col_best=True, backend=backend, tile_rows=tile_rows, tile_cols=tile_cols)
    if top.indices.numel() == 0:
        empty = torch.empty(0, dtype=torch.long, device=x.device)
        return MutualNN(empty, empty, top.values.new_empty(0))
    j = top.indices[:, 0]
    mutual = top.col_indices[j] == torch.arange(x.size(0), device=x.device)
    row = mutual.nonzero().view(-1)
    return MutualNN(row, j[row], top.values[row, 0])
