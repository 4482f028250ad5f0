import torch
import torch.nn.functional as F
from torch import Tensor


def bidirectional_info_nce(z_src: Tensor, z_tgt: Tensor, temperature: float = 1.0) -> Tensor:
    r"""Symmetric InfoNCE over a batch of seed pairs with negatives from both KGs.

    For pair ``i`` the anchor ``z_src[i]`` must pick ``z_tgt[i]`` out of every ``z_tgt[j]`` and every other
    ``z_src[j]`` (``j != i``); the same from the target side; the two losses are averaged.

    Args:
        z_src: ``[B, d]`` source embeddings of the seed pairs. z_tgt: ``[B, d]`` their partners.
        temperature: softmax temperature.
    Returns:
        The scalar loss.
    """
    if z_src.shape != z_tgt.shape or z_src.dim() != 2:
        raise ValueError(f'z_src and z_tgt must both be [B, d], got {tuple(z_src.shape)} and '
                         f'{tuple(z_tgt.shape)}')
    a, b = F.normalize(z_src, dim=-1), F.normalize(z_tgt, dim=-1)
    eye = torch.eye(a.size(0), dtype=torch.bool, device=a.device)
    target = torch.arange(a.size(0), device=a.device)
    ab = a @ b.t() / temperature
    aa = (a @ a.t() / temperature).masked_fill(eye, float('-inf'))
    bb = (b @ b.t() / temperature).masked_fill(eye, float('-inf'))
    loss_a = F.cross_entropy(torch.cat([ab, aa], dim=1), target)
    loss_b = F.cross_entropy(torch.cat([ab.t(), bb], dim=1), target)
    return 0.5 * (loss_a + loss_b)
