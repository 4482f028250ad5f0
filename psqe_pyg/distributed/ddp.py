"""Data-parallel training across ranks for losses that sum over a batch's rows.

Every rank runs the same model on the same batch; :func:`loss_rows` gives the rows whose loss terms this rank
computes, and :func:`wrap` puts the model in :class:`~torch.nn.parallel.DistributedDataParallel`, which
all-reduces the gradients during the backward pass. DDP averages them, so :func:`backward` scales this rank's
partial loss by the world size: the synced gradient is that of the whole batch's loss (equal to one process's
up to float rounding, since the terms are added in another order).
"""
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from psqe_pyg.distributed import comm


def wrap(module: nn.Module) -> nn.Module:
    """``module`` in DistributedDataParallel under a process group (its parameters broadcast from rank 0),
    else ``module`` itself."""
    if not comm.is_distributed():
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device] if device.type == 'cuda' else None)


def loss_rows(batch: int) -> slice | None:
    """This rank's rows of a batch of ``batch`` (``None``, every row, without a group)."""
    if not comm.is_distributed():
        return None
    return slice(*comm.shard_range(batch))


def backward(partial: Tensor) -> None:
    """Backpropagates this rank's partial loss so that DDP's averaged gradients are the whole loss's."""
    (partial * comm.world_size() if comm.is_distributed() else partial).backward()


def total(partial: Tensor) -> float:
    """The whole batch's loss: the partial losses summed over the ranks."""
    return float(comm.all_reduce_sum(partial.detach().clone()))
