"""Pure-torch implementations of the ``torch.ops.psqe`` kernels.

They follow the op semantics documented in ``csrc/ops.cpp`` to the tie: they are the fallback when
the compiled library is absent (so they are tiled like the kernels and never hold an ``N x M`` or
``N x k`` matrix beyond one tile) and the oracle the kernels are tested against. They run on any
device torch supports. Inputs are assumed validated by the public wrappers in ``psqe_pyg.ops``.
"""
import math

import torch
from torch import Tensor

DEFAULT_TILE_ROWS = 512
DEFAULT_TILE_COLS = 4096
_ASSIGN_ROWS = 256  # kmeans assignment tile (the CPU kernel's shape, so GEMM rounding matches)
_ASSIGN_CENTROIDS = 1024


def rows_per_chunk(d: int, elems: int = 1 << 20) -> int:
    """Rows per chunk for row-wise float64 temporaries of about ``elems`` elements (8 MiB)."""
    return max(1, elems // max(1, d))


def _acc_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def order_desc(values: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
    """Sorts each row of (values, indices) by value descending, ties by index ascending."""
    o = indices.argsort(dim=1, stable=True)
    values, indices = values.gather(1, o), indices.gather(1, o)
    o = values.argsort(dim=1, descending=True, stable=True)
    return values.gather(1, o), indices.gather(1, o)


def _block_topk(s: Tensor, kk: int) -> tuple[Tensor, Tensor]:
    """The ``min(kk, c)`` best columns of every row of the score tile ``s [r, c]``, in op order."""
    r, c = s.shape
    if c <= kk:
        idx = torch.arange(c, device=s.device).expand(r, c)
        return order_desc(s, idx)
    tv, ti = s.topk(kk + 1, dim=1)
    v, i = tv[:, :kk], ti[:, :kk]
    # Where the kk-th and (kk+1)-th values tie, topk's pick among the tied columns is arbitrary:
    # redo those rows with a stable sort, which keeps the lowest column indices.
    tie = tv[:, kk - 1] == tv[:, kk]
    if bool(tie.any()):
        rows = tie.nonzero().view(-1)
        sv, si = s[rows].sort(dim=1, descending=True, stable=True)
        v, i = v.clone(), i.clone()
        v[rows], i[rows] = sv[:, :kk], si[:, :kk]
    return order_desc(v, i)


@torch.no_grad()
def sim_topk(x: Tensor, y: Tensor, k: int, tile_rows: int = 0, tile_cols: int = 0,
             col_best: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Reference of ``torch.ops.psqe.sim_topk`` (same arguments, same outputs)."""
    n, m = x.size(0), y.size(0)
    kk = min(k, m)
    acc = _acc_dtype(x.dtype)
    tr = tile_rows if tile_rows > 0 else DEFAULT_TILE_ROWS
    tc = tile_cols if tile_cols > 0 else DEFAULT_TILE_COLS
    dev = x.device
    values = torch.empty(n, kk, dtype=acc, device=dev)
    indices = torch.empty(n, kk, dtype=torch.long, device=dev)
    if col_best:
        col_values = torch.full((m,), -math.inf, dtype=acc, device=dev)
        col_indices = torch.full((m,), -1, dtype=torch.long, device=dev)
    else:
        col_values = torch.empty(0, dtype=acc, device=dev)
        col_indices = torch.empty(0, dtype=torch.long, device=dev)

    if n > 0 and m > 0:
        for r0 in range(0, n, tr):
            xb = x[r0:r0 + tr].to(acc)
            run_v = run_i = None
            for c0 in range(0, m, tc):
                s = xb @ y[c0:c0 + tc].to(acc).t()
                bv, bi = _block_topk(s, kk)
                bi = bi + c0
                if run_v is None:
                    run_v, run_i = bv, bi
                else:
                    run_v, run_i = order_desc(torch.cat([run_v, bv], 1), torch.cat([run_i, bi], 1))
                    run_v, run_i = run_v[:, :kk], run_i[:, :kk]
                if col_best:
                    mv, mi = s.max(dim=0)  # ties: first (lowest) row
                    cv, ci = col_values[c0:c0 + tc], col_indices[c0:c0 + tc]
                    better = (mv > cv) | (ci < 0)  # earlier row blocks hold lower rows
                    cv[better] = mv[better]
                    ci[better] = mi[better] + r0
            values[r0:r0 + tr] = run_v
            indices[r0:r0 + tr] = run_i
    if values.dtype != x.dtype:
        values, col_values = values.to(x.dtype), col_values.to(x.dtype)
    return values, indices, col_values, col_indices


def _sq_dist_to(x: Tensor, c: Tensor) -> Tensor:
    """||x_i - c||^2 for every row, differences and sums in float64 (row chunks bound the memory)."""
    c = c.double()
    chunk = rows_per_chunk(x.size(1))
    out = torch.empty(x.size(0), dtype=torch.float64, device=x.device)
    for i in range(0, x.size(0), chunk):
        out[i:i + chunk] = (x[i:i + chunk].double() - c).pow(2).sum(1)
    return out


@torch.no_grad()
def kmeans_pp_init(x: Tensor, uniforms: Tensor) -> Tensor:
    """Reference of ``torch.ops.psqe.kmeans_pp_init``: k-means++ seeding driven by ``uniforms``."""
    n = x.size(0)
    u = uniforms.double().cpu().tolist()
    chosen: list[int] = []
    d2 = torch.full((n,), math.inf, dtype=torch.float64, device=x.device)
    for t, ut in enumerate(u):
        c = -1
        if t > 0:
            cum = torch.cumsum(d2, 0)
            total = float(cum[-1])
            if total > 0.0:
                target = torch.tensor([ut * total], dtype=torch.float64, device=x.device)
                c = int(torch.searchsorted(cum, target, right=True))  # first i with cum_i > target
                if c >= n:  # rounding: target reached the total
                    c = int(d2.gt(0).nonzero().max())
        if c < 0:
            c = min(int(math.floor(ut * n)), n - 1)
        chosen.append(c)
        if t + 1 < len(u):
            d2 = torch.minimum(d2, _sq_dist_to(x, x[c]))
    return torch.tensor(chosen, dtype=torch.long, device=x.device)


def _assign(x: Tensor, centroids: Tensor) -> Tensor:
    """argmin_c ||C_c||^2 - 2 <x_i, C_c> in x's precision, ties to the lowest c; tiled."""
    cnorm = (centroids * centroids).sum(1)
    n, k = x.size(0), centroids.size(0)
    out = torch.empty(n, dtype=torch.long, device=x.device)
    for r0 in range(0, n, _ASSIGN_ROWS):
        xb = x[r0:r0 + _ASSIGN_ROWS]
        best_v = best_i = None
        for c0 in range(0, k, _ASSIGN_CENTROIDS):
            s = cnorm[c0:c0 + _ASSIGN_CENTROIDS] - 2 * (xb @ centroids[c0:c0 + _ASSIGN_CENTROIDS].t())
            v, i = s.min(dim=1)  # ties: first (lowest) centroid
            i = i + c0
            if best_v is None:
                best_v, best_i = v, i
            else:
                better = v < best_v  # earlier blocks hold lower centroid ids
                best_v, best_i = torch.where(better, v, best_v), torch.where(better, i, best_i)
        out[r0:r0 + _ASSIGN_ROWS] = best_i
    return out


def _inertia(x: Tensor, centroids: Tensor, assignment: Tensor) -> float:
    c = centroids.double()
    chunk = rows_per_chunk(x.size(1))
    total = 0.0
    for i in range(0, x.size(0), chunk):
        total += float((x[i:i + chunk].double() - c[assignment[i:i + chunk]]).pow(2).sum())
    return total


@torch.no_grad()
def kmeans_lloyd(x: Tensor, centroids: Tensor, iters: int, tol: float) -> tuple[Tensor, Tensor, float]:
    """Reference of ``torch.ops.psqe.kmeans_lloyd`` (see ``csrc/ops.cpp`` for the exact iteration)."""
    n, d = x.shape
    k = centroids.size(0)
    c = centroids.clone()
    for _ in range(iters):
        a = _assign(x, c)
        counts = torch.bincount(a, minlength=k)
        sums = torch.zeros(k, d, dtype=torch.float64, device=x.device)
        chunk = rows_per_chunk(d)
        for i in range(0, n, chunk):
            sums.index_add_(0, a[i:i + chunk], x[i:i + chunk].double())
        new = (sums / counts.clamp(min=1).unsqueeze(1).double()).to(x.dtype)
        new = torch.where((counts > 0).unsqueeze(1), new, c)  # an empty cluster keeps its centroid
        shift = float((new.double() - c.double()).pow(2).sum(1).max())
        c = new
        if shift <= tol:
            break
    a = _assign(x, c)
    return c, a, _inertia(x, c, a)


def _walk_order(score: Tensor) -> list[int]:
    return torch.argsort(score.cpu(), descending=True, stable=True).tolist()


@torch.no_grad()
def greedy_match(row: Tensor, col: Tensor, score: Tensor, limit: int = -1) -> Tensor:
    """Reference of ``torch.ops.psqe.greedy_match``.

    Vectorised rounds of the locally-dominant rule: a remaining candidate that comes first (in walk
    order) among the remaining candidates of both its row and its column is accepted by the
    sequential walk, whatever happens elsewhere; accept all of those, drop the candidates they
    conflict with, repeat. The union equals the walk's matching; sorting it by walk position and
    truncating to ``limit`` gives the walk's output. Slow progress switches to the plain walk.
    """
    dev = row.device
    n = row.numel()
    if n == 0 or limit == 0:
        return torch.empty(0, dtype=torch.long, device=dev)
    order = torch.argsort(score, descending=True, stable=True)
    pos = torch.empty_like(order)
    pos[order] = torch.arange(n, device=dev)  # walk position of every candidate
    _, r = torch.unique(row, return_inverse=True)  # compact ids: the scatters below stay O(L)
    _, c = torch.unique(col, return_inverse=True)
    alive = torch.arange(n, device=dev)
    accepted = []
    big = torch.iinfo(torch.long).max
    while alive.numel() > 0:
        p, ra, ca = pos[alive], r[alive], c[alive]
        first_r = torch.full((int(r.max()) + 1,), big, dtype=torch.long, device=dev).scatter_reduce_(
            0, ra, p, 'amin')
        first_c = torch.full((int(c.max()) + 1,), big, dtype=torch.long, device=dev).scatter_reduce_(
            0, ca, p, 'amin')
        win = (first_r[ra] == p) & (first_c[ca] == p)
        won = alive[win]
        accepted.append(won)
        taken_r = torch.zeros(int(r.max()) + 1, dtype=torch.bool, device=dev)
        taken_c = torch.zeros(int(c.max()) + 1, dtype=torch.bool, device=dev)
        taken_r[r[won]] = True
        taken_c[c[won]] = True
        alive = alive[~(taken_r[ra] | taken_c[ca])]
        if 0 < alive.numel() and won.numel() * 64 < alive.numel():
            # Chains of conflicts: few winners per round; finish with the sequential walk.
            rest = alive[torch.argsort(pos[alive])].tolist()
            rl, cl = r.tolist(), c.tolist()
            fr, fc = set(), set()
            tail = []
            for q in rest:
                if rl[q] in fr or cl[q] in fc:
                    continue
                fr.add(rl[q])
                fc.add(cl[q])
                tail.append(q)
            accepted.append(torch.tensor(tail, dtype=torch.long, device=dev))
            break
    sel = torch.cat(accepted)
    sel = sel[torch.argsort(pos[sel])]
    return sel if limit < 0 else sel[:limit]


@torch.no_grad()
def greedy_match_grouped(row: Tensor, col: Tensor, score: Tensor, group: Tensor, group_limit: Tensor,
                         limit: int = -1) -> Tensor:
    """Reference of ``torch.ops.psqe.greedy_match_grouped``: the sequential walk, in Python."""
    dev = row.device
    if row.numel() == 0 or limit == 0:
        return torch.empty(0, dtype=torch.long, device=dev)
    rl, cl, gl = row.tolist(), col.tolist(), group.tolist()
    cap = group_limit.tolist()
    used = [0] * len(cap)
    fr, fc = set(), set()
    out = []
    for p in _walk_order(score):
        if rl[p] in fr or cl[p] in fc:
            continue
        g = gl[p]
        if 0 <= cap[g] <= used[g]:
            continue
        used[g] += 1
        fr.add(rl[p])
        fc.add(cl[p])
        out.append(p)
        if 0 <= limit <= len(out):
            break
    return torch.tensor(out, dtype=torch.long, device=dev)
