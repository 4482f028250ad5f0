r"""Row access to feature matrices that may be sparse (relation / attribute bags), in bounded tiles.

A bag ``[N, vocabulary]`` is kept as a sparse COO tensor; the helpers here gather rows of dense or sparse
matrices into dense tiles and normalise sparse rows exactly as :func:`torch.nn.functional.normalize` does
on the dense matrix (the norms are taken on dense row tiles, so the values are bit for bit the dense ones).

Budget: a dense tile holds at most :data:`TILE_ELEMS` elements (``2**24`` float32 = 64 MiB by default;
at least one row), so nothing here allocates ``N x vocabulary``.
"""
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

#: Most elements of one dense tile made from a sparse matrix (default ``2**24``, 64 MiB of float32).
TILE_ELEMS = 1 << 24


def is_sparse(x: Tensor) -> bool:
    """Whether ``x`` is a sparse (COO or CSR) tensor."""
    return x.layout in (torch.sparse_coo, torch.sparse_csr)


def tile_rows(width: int, budget: int = TILE_ELEMS) -> int:
    """Rows of a dense tile of ``width`` columns within ``budget`` elements (at least 1)."""
    return max(1, budget // max(width, 1))


def csr_parts(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(rowptr [N + 1], col [nnz], value [nnz])`` of a sparse COO or CSR matrix, on its device."""
    if x.layout == torch.sparse_csr:
        return x.crow_indices(), x.col_indices(), x.values()
    if x.layout != torch.sparse_coo:
        raise TypeError(f'csr_parts: expected a sparse COO or CSR tensor, got layout {x.layout}')
    x = x.coalesce()  # sorted by row, then column
    row, col = x.indices()
    counts = torch.bincount(row, minlength=x.size(0))
    rowptr = torch.zeros(x.size(0) + 1, dtype=torch.long, device=x.device)
    torch.cumsum(counts, 0, out=rowptr[1:])
    return rowptr, col, x.values()


def _entries(x: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(out_row, col, value)`` of the stored entries of the rows ``rows`` of a sparse ``x``, ``out_row`` being
    the position in ``rows`` (ascending, columns ascending inside a row)."""
    rowptr, col, value = csr_parts(x)
    start, count = rowptr[rows], rowptr[rows + 1] - rowptr[rows]
    total = int(count.sum()) if rows.numel() else 0
    out_row = torch.repeat_interleave(torch.arange(rows.numel(), device=x.device), count, output_size=total)
    # position of every gathered entry in col/value: its row's start plus its rank inside the row
    first = torch.cumsum(count, 0) - count
    pos = start[out_row] + torch.arange(total, device=x.device) - first[out_row]
    return out_row, col[pos], value[pos]


def gather_rows(x: Tensor, rows: Tensor) -> Tensor:
    """Dense ``[len(rows), d]``: the rows ``rows`` (any order, repeats allowed) of a dense or sparse ``x``."""
    if not is_sparse(x):
        return x[rows]
    out_row, col, value = _entries(x, rows)
    out = torch.zeros(rows.numel(), x.size(1), dtype=x.dtype, device=x.device)
    out[out_row, col] = value
    return out


def select_rows(x: Tensor, rows: Tensor) -> Tensor:
    """``x[rows]`` with ``x``'s kind: dense rows for a dense ``x``, a coalesced sparse COO ``[len(rows), d]`` for a
    sparse one (memory O(its nonzeros))."""
    if not is_sparse(x):
        return x[rows]
    out_row, col, value = _entries(x, rows)
    return torch.sparse_coo_tensor(torch.stack([out_row, col]), value, (rows.numel(), x.size(1)),
                                   is_coalesced=True, check_invariants=False)


def to_csr(x: Tensor) -> Tensor:
    """A sparse COO ``x`` as sparse CSR (rows reachable by pointer), without torch's "CSR is in beta" warning;
    any other ``x`` as it is."""
    if x.layout != torch.sparse_coo:
        return x
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return x.to_sparse_csr()


def dense_tiles(x: Tensor, budget: int = TILE_ELEMS):
    """Yields ``(start, tile)``: consecutive dense row tiles of ``x`` within ``budget`` elements."""
    step = tile_rows(x.size(1), budget)
    x = to_csr(x)  # rows by pointer: no pass over every entry per tile
    for start in range(0, x.size(0), step):
        rows = torch.arange(start, min(start + step, x.size(0)), device=x.device)
        yield start, gather_rows(x, rows)


def row_norms(x: Tensor, budget: int = TILE_ELEMS) -> Tensor:
    """``[N]`` L2 norm of every row of a dense or sparse ``x``, as :func:`torch.linalg.vector_norm` gives it on
    the dense rows (computed on dense row tiles of at most ``budget`` elements)."""
    if not is_sparse(x):
        return x.norm(2, dim=-1)
    out = torch.empty(x.size(0), dtype=x.dtype, device=x.device)
    for start, tile in dense_tiles(x, budget):
        out[start:start + tile.size(0)] = tile.norm(2, dim=-1)
    return out


def scale_rows(x: Tensor, scale: Tensor, *, divide: bool = False) -> Tensor:
    """``x * scale[:, None]`` (or ``x / scale[:, None]``) with ``x``'s layout; a sparse ``x`` stays sparse."""
    if not is_sparse(x):
        return x / scale.unsqueeze(-1) if divide else x * scale.unsqueeze(-1)
    x = x.coalesce() if x.layout == torch.sparse_coo else x.to_sparse_coo().coalesce()
    row = x.indices()[0]
    value = x.values() / scale[row] if divide else x.values() * scale[row]
    return torch.sparse_coo_tensor(x.indices(), value, x.shape, is_coalesced=True, check_invariants=False)


def normalize_rows(x: Tensor, eps: float = 1e-12, budget: int = TILE_ELEMS) -> Tensor:
    """Row-wise L2 normalisation with ``x``'s layout: ``F.normalize(x, dim=-1)`` for dense ``x``, and for a
    sparse one the same values (norms from dense row tiles of at most ``budget`` elements)."""
    if not is_sparse(x):
        return F.normalize(x, dim=-1, eps=eps)
    return scale_rows(x, row_norms(x, budget).clamp_min(eps), divide=True)


def cat_columns(blocks: list[Tensor]) -> Tensor:
    """``[N, sum d]`` the blocks side by side: dense when all are dense, else sparse COO (dense blocks are
    made sparse, so mix only blocks that are mostly zero)."""
    if not any(is_sparse(b) for b in blocks):
        return torch.cat(blocks, dim=-1)
    return torch.cat([b.to_sparse_coo() if is_sparse(b) else b.to_sparse() for b in blocks], dim=1).coalesce()
