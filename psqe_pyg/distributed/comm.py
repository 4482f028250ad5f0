"""Rank, world size, shard ranges and ragged all-gathers over the default torch.distributed group.

Every helper gives the single-process answer when no group is initialised (rank 0 of 1), so callers need no
special case. Shards are contiguous row ranges in rank order whose boundaries fall on multiples of ``align``
(a kernel's tile), so each rank computes exactly the tiles the single process computes for those rows.
"""
import contextlib
import logging
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor

log = logging.getLogger(__name__)


def is_distributed() -> bool:
    """True when a default process group with more than one rank is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a group)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """The number of ranks (1 without a group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0 (and without a group): the process that writes outputs and logs."""
    return rank() == 0


def shard_range(n: int, align: int = 1, rank_: int | None = None, world: int | None = None) -> tuple[int, int]:
    """``[start, end)`` of rank ``rank_``'s shard of ``n`` rows (default: this rank of this group).

    The ``ceil(n / align)`` blocks of ``align`` rows are dealt out contiguously, the first ``blocks % world``
    ranks taking one more; the last block may be ragged. Ranks past the blocks get an empty range at ``n``.
    """
    if align < 1:
        raise ValueError(f'shard_range: align must be >= 1, got {align}')
    r = rank() if rank_ is None else rank_
    p = world_size() if world is None else world
    blocks = -(-n // align)
    per, extra = divmod(blocks, p)
    first = r * per + min(r, extra)
    last = first + per + (1 if r < extra else 0)
    return min(first * align, n), min(last * align, n)


def shard_sizes(n: int, align: int = 1) -> list[int]:
    """Every rank's shard length for :func:`shard_range` (``[n]`` without a group)."""
    p = world_size()
    return [e - s for s, e in (shard_range(n, align, r, p) for r in range(p))]


def all_gather_rows(part: Tensor, sizes: list[int]) -> Tensor:
    """Concatenates every rank's ``part [sizes[rank], ...]`` in rank order: ``[sum(sizes), ...]`` on every rank.

    Shards may be ragged (gloo and NCCL gather equal shapes, so each part is padded to the longest and trimmed).
    """
    if not is_distributed():
        return part
    if part.size(0) != sizes[rank()]:
        raise ValueError(f'all_gather_rows: this rank holds {part.size(0)} rows, expected {sizes[rank()]}')
    longest = max(sizes)
    padded = part.new_zeros((longest, *part.shape[1:]))
    padded[:part.size(0)] = part
    out = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(out, padded)
    return torch.cat([o[:s] for o, s in zip(out, sizes)])


def all_reduce_sum(t: Tensor) -> Tensor:
    """Sums ``t`` over the ranks, in place; returns it (unchanged without a group)."""
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block before the others (e.g. to build a dataset cache they then read)."""
    if is_distributed() and not is_main():
        dist.barrier()
    yield
    if is_distributed() and is_main():
        dist.barrier()


def init_from_env(device_type: str = 'cpu') -> bool:
    """Initialises the default process group from torchrun's environment (``WORLD_SIZE`` > 1, ``RANK``,
    ``MASTER_ADDR``, ...), with NCCL for ``device_type='cuda'`` and gloo otherwise. Does nothing when a group
    is already initialised or ``WORLD_SIZE`` is unset or 1. Returns :func:`is_distributed`."""
    if dist.is_available() and not dist.is_initialized() and int(os.environ.get('WORLD_SIZE', '1')) > 1:
        backend = 'nccl' if device_type == 'cuda' else 'gloo'
        if backend == 'nccl':  # one GPU per process, before NCCL picks one
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', '0')))
        dist.init_process_group(backend)
        log.debug('rank %d of %d: %s process group', rank(), world_size(), backend)
    return is_distributed()


def local_device(device: str) -> str:
    """``'cuda'`` becomes this process's GPU, ``cuda:$LOCAL_RANK``, under a process group; anything else
    is returned unchanged."""
    if device == 'cuda' and is_distributed():
        return f'cuda:{int(os.environ.get("LOCAL_RANK", rank()))}'
    return device
