import torch
import torch.nn.functional as F
from torch import Tensor


def bidirectional_info_nce(z_src: Tensor, z_tgt: Tensor, temperature: float = 1.0,
                           rows: slice | None = None) -> Tensor:
    r"""Symmetric InfoNCE over a batch of seed pairs with negatives from both KGs.

    For pair ``i`` the anchor ``z_src[i]`` must pick ``z_tgt[i]`` out of every ``z_tgt[j]`` and every other
    ``z_src[j]`` (``j != i``); the same from the target side; the two losses are averaged.

    Args:
        z_src: ``[B, d]`` source embeddings of the seed pairs. z_tgt: ``[B, d]`` their partners.
        temperature: softmax temperature.
        rows: only the anchors of these pairs (both sides), still divided by ``B``: the terms of one rank's
            shard of the batch, so the shards' losses add up to the whole batch's (data-parallel training).
    Returns:
        The scalar loss.
    """
    if z_src.shape != z_tgt.shape or z_src.dim() != 2:
        raise ValueError(f'z_src and z_tgt must both be [B, d], got {tuple(z_src.shape)} and '
                         f'{tuple(z_tgt.shape)}')
    a, b = F.normalize(z_src, dim=-1), F.normalize(z_tgt, dim=-1)
    n = a.size(0)
    target = torch.arange(n, device=a.device)[slice(None) if rows is None else rows]
    eye = target.unsqueeze(1) == torch.arange(n, device=a.device)  # [R, B]: each anchor's own column
    ab = a[target] @ b.t() / temperature
    ba = ab.t() if rows is None else (a @ b[target].t() / temperature).t()
    aa = (a[target] @ a.t() / temperature).masked_fill(eye, float('-inf'))
    bb = (b[target] @ b.t() / temperature).masked_fill(eye, float('-inf'))
    loss_a = F.cross_entropy(torch.cat([ab, aa], dim=1), target, reduction='sum') / n
    loss_b = F.cross_entropy(torch.cat([ba, bb], dim=1), target, reduction='sum') / n
    return 0.5 * (loss_a + loss_b)
