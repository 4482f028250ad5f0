"""Greedy one-to-one decoding: the exact walk of :func:`~psqe_pyg.ops.greedy_dense_match`."""
from torch import Tensor

from psqe_pyg.ops.dense_match import Matches, greedy_dense_match


def greedy(x: Tensor, y: Tensor) -> Matches:
    """Walks all ``N x M`` pairs of ``x [N, d]`` and ``y [M, d]`` by descending inner product (ties: lower row,
    then lower column) and keeps a pair when neither end is taken, until ``min(N, M)`` pairs are kept.
    The ``[N, M]`` scores are never held; returns :class:`Matches` in acceptance order."""
    return greedy_dense_match(x, y, min(x.size(0), y.size(0)), seed=None)
