"""Exact one-to-one decoding: the maximum-weight linear assignment (``scipy.optimize.linear_sum_assignment``)."""
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from psqe_pyg.decoding._checks import check_pair
from psqe_pyg.ops.dense_match import Matches

# The most entities a side: the dense float64 score matrix then takes at most 8 * 16384^2 B = 2 GiB, and
# scipy's shortest augmenting path (O(n^3) at worst) takes minutes. DBP15K's and SRPRS's 10,500 test
# links fit.
MAX_ASSIGNMENT_SIZE = 16_384


def assignment(x: Tensor, y: Tensor, *, max_size: int = MAX_ASSIGNMENT_SIZE) -> Matches:
    r"""The one-to-one matching of ``min(N, M)`` pairs of ``x [N, d]`` and ``y [M, d]`` with the largest
    total inner product, exactly (the SEU / UDCEA decoding).

    Builds the dense ``[N, M]`` scores in float64 on the CPU; scipy's solver is deterministic, so the same
    input always gives the same matching (with several optimal ones, always the same one). Raises a
    ValueError when ``N`` or ``M`` exceeds ``max_size`` (default :data:`MAX_ASSIGNMENT_SIZE`). Returns
    :class:`Matches` sorted by row, on ``x``'s device.
    """
    who = 'assignment'
    check_pair(x, y, who)
    if max(x.size(0), y.size(0)) > max_size:
        raise ValueError(f'{who}: x has {x.size(0)} rows and y {y.size(0)}, above max_size={max_size}: the '
                         f'dense assignment would need {8 * x.size(0) * y.size(0) / 2**30:.1f} GiB; use '
                         'greedy or sinkhorn decoding, which keep sparse candidate lists')
    scores = (x.double() @ y.double().t()).cpu()
    row, col = linear_sum_assignment(scores.numpy(), maximize=True)
    row = torch.from_numpy(row).long()
    col = torch.from_numpy(col).long()
    return Matches(row.to(x.device), col.to(x.device), scores[row, col].to(x.device, x.dtype))
