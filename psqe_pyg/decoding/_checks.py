"""Input checks shared by the decoders: errors name the tensor and what was expected."""
from torch import Tensor

from psqe_pyg.ops._backend import check_features


def check_pair(x: Tensor, y: Tensor, who: str) -> None:
    """``x [N, d]`` and ``y [M, d]``: finite floating matrices with the same width, dtype and device."""
    check_features(x, 'x', who)
    check_features(y, 'y', who)
    if x.size(1) != y.size(1):
        raise ValueError(f'{who}: x has {x.size(1)} features but y has {y.size(1)}')
    if x.dtype != y.dtype or x.device != y.device:
        raise ValueError(f'{who}: x and y must share dtype and device (got {x.dtype} on {x.device} and '
                         f'{y.dtype} on {y.device})')
