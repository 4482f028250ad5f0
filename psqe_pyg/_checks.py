"""Input checks shared by the feature builders and the metrics: errors name the tensor and what was expected."""
import torch
from torch import Tensor


def as_index(t, name: str, who: str, ndim: int) -> Tensor:
    """``t`` as an int64 tensor of ``ndim`` dimensions, or a TypeError/ValueError naming it."""
    if not isinstance(t, Tensor):
        raise TypeError(f'{who}: {name} must be a torch.Tensor (got {type(t).__name__})')
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise TypeError(f'{who}: {name} must be an integer tensor (got {t.dtype})')
    if t.dim() != ndim:
        raise ValueError(f'{who}: {name} must have {ndim} dimension(s) (got shape {tuple(t.shape)})')
    return t.long()


def check_range(t: Tensor, upper: int, name: str, bound: str, who: str) -> None:
    """Raises a ValueError naming ``t`` unless all its values lie in ``[0, upper)``."""
    if t.numel() == 0:
        return
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= upper:
        raise ValueError(f'{who}: {name} has values in [{lo}, {hi}], outside [0, {bound}={upper})')
