"""torch.distributed support (DESIGN §8, "past one machine"): with ``torchrun --nproc_per_node=P`` or an
initialised process group, the similarity join shards the target rows across ranks and merges the per-rank
top-k lists (:mod:`~psqe_pyg.ops.sharded_join`), k-means shards its assignment step and all-reduces its sums
(:mod:`~psqe_pyg.ops.sharded_kmeans`), and the aligner syncs its gradients (:mod:`~psqe_pyg.distributed.ddp`).
Without a process group every helper returns the single-process value, so the ops run unchanged.

This package sits below the ops: it imports only torch, so the ops' sharded paths (in :mod:`psqe_pyg.ops`) can
use it without an import cycle.
"""
from psqe_pyg.distributed import comm
from psqe_pyg.distributed.comm import init_from_env, is_distributed, is_main, rank, world_size

__all__ = ['comm', 'init_from_env', 'is_distributed', 'is_main', 'rank', 'world_size']
