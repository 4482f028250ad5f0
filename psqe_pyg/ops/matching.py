"""Greedy one-to-one selection over scored candidate pairs (``greedy_match``), and the seeded order in which
the matchers built on it take exactly tied candidates (``tie_break_order``)."""
import torch
from torch import Tensor

from psqe_pyg.ops import reference
from psqe_pyg.ops._backend import auto_uses_kernel, check_index_vector, has_kernel, resolve_backend

BACKENDS = ('cpp', 'cuda', 'torch')


def tie_break_order(n: int, seed: int, device: torch.device) -> Tensor:
    """``[n]`` a random permutation drawn from ``seed`` (on the CPU, so every device draws the same one),
    on ``device``: the order in which exactly tied candidates are taken.

    Tie-breaking by position would let the input's order decide: benchmark files list the two ends of a
    gold link at the same position, so "lower row, then lower column" favours gold pairs."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n, generator=gen, device='cpu').to(device)


def tie_break_rank(n: int, seed: int, device: torch.device) -> Tensor:
    """``[n]`` each id's position in :func:`tie_break_order` (its inverse permutation)."""
    order = tie_break_order(n, seed, device)
    return torch.empty_like(order).scatter_(0, order, torch.arange(n, device=device))


def greedy_match(row: Tensor, col: Tensor, score: Tensor, limit: int | None = None, *,
                 group: Tensor | None = None, group_limit: Tensor | int | None = None,
                 backend: str = 'auto') -> Tensor:
    """Greedy one-to-one matching: walk the candidates ``(row[p], col[p])`` by ``score`` descending
    (stable: equal scores keep input order) and accept a candidate when neither its row nor its column
    was accepted before, until ``limit`` candidates are accepted.

    Args:
        row, col: ``[L]`` int64 ids, any non-negative values (not necessarily dense).
        score: ``[L]`` floating, no NaN.
        limit: the most candidates to accept (None or negative: no limit).
        group: optional ``[L]`` int64 group id per candidate (values in ``[0, G)``); with it, a candidate
            is also refused (without taking its row or column) once its group has accepted
            ``group_limit[g]`` candidates.
        group_limit: ``[G]`` int64 per-group caps (negative: no cap), or one int for every group.
        backend: ``'auto'`` (the compiled kernel; tensors on a device without a kernel that ``'auto'`` may
            use, e.g. CUDA while the CUDA kernels are unverified, go through the CPU kernel), ``'cpp'``,
            ``'cuda'`` (the CUDA kernel) or ``'torch'`` (the pure-torch reference).

    Returns:
        ``[S]`` int64: the positions ``p`` of the accepted candidates, in acceptance order (so
        ``score[result]`` is non-increasing).
    """
    who = 'greedy_match'
    check_index_vector(row, 'row', who)
    n = row.numel()
    check_index_vector(col, 'col', who, n)
    if not isinstance(score, Tensor) or score.dim() != 1 or not score.dtype.is_floating_point:
        raise TypeError(f'{who}: score must be a 1-D floating tensor, got '
                        f'{tuple(score.shape) if isinstance(score, Tensor) else type(score).__name__}'
                        f'{" " + str(score.dtype) if isinstance(score, Tensor) else ""}')
    if score.numel() != n:
        raise ValueError(f'{who}: row, col and score must have the same length, got {n}, {col.numel()} and '
                         f'{score.numel()}')
    if not (row.device == col.device == score.device):
        raise ValueError(f'{who}: row, col and score must be on the same device, got {row.device}, '
                         f'{col.device} and {score.device}')
    if n > 0:
        if bool(torch.isnan(score).any()):
            raise ValueError(f'{who}: score contains NaN')
        if int(row.min()) < 0 or int(col.min()) < 0:
            raise ValueError(f'{who}: row and col ids must be >= 0')
    if limit is None:
        limit = -1
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f'{who}: limit must be an int or None, got {type(limit).__name__}')

    op = 'greedy_match'
    if group is not None:
        op = 'greedy_match_grouped'
        check_index_vector(group, 'group', who, n)
        if group.device != row.device:
            raise ValueError(f'{who}: group must be on the device of row ({row.device}), got {group.device}')
        n_groups = int(group.max()) + 1 if n > 0 else 0
        if n > 0 and int(group.min()) < 0:
            raise ValueError(f'{who}: group ids must be >= 0')
        if group_limit is None:
            raise ValueError(f'{who}: group needs group_limit')
        if isinstance(group_limit, int) and not isinstance(group_limit, bool):
            group_limit = torch.full((n_groups,), group_limit, dtype=torch.long, device=row.device)
        check_index_vector(group_limit, 'group_limit', who)
        if group_limit.numel() < n_groups:
            raise ValueError(f'{who}: group_limit has {group_limit.numel()} entries but group ids reach '
                             f'{n_groups - 1}')
        group_limit = group_limit.to(row.device)
    elif group_limit is not None:
        raise ValueError(f'{who}: group_limit needs group')

    device = row.device
    if backend == 'auto' and not auto_uses_kernel(op, device) and has_kernel(op, torch.device('cpu')):
        run_on = torch.device('cpu')  # a sequential walk: the CPU kernel beats a device round trip loop
    else:
        run_on = device
    impl = resolve_backend(who, backend, run_on, BACKENDS, kernels=(op,))
    args = [row, col, score] + ([group, group_limit] if group is not None else [])
    args = [a.to(run_on) for a in args]
    with torch.no_grad():
        if impl == 'cpp':
            fn = torch.ops.psqe.greedy_match_grouped if group is not None else torch.ops.psqe.greedy_match
        else:
            fn = reference.greedy_match_grouped if group is not None else reference.greedy_match
        out = fn(*args, int(limit))
    return out.to(device)
