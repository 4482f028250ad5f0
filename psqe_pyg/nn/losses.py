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
    first, stop, step = (rows or slice(None)).indices(n)
    if step != 1:
        raise ValueError(f'rows must be a contiguous slice, got {rows}')
    target = torch.arange(first, stop, device=a.device)
    anchors = slice(first, stop)  # a[anchors] is a view, not a copy

    def scaled(sim: Tensor) -> Tensor:
        return sim if temperature == 1.0 else sim / temperature

    def own_masked(sim: Tensor) -> Tensor:  # -inf on each anchor's own column, in place: no masked copy
        sim.diagonal(first).fill_(float('-inf'))
        return sim

    ab = scaled(a[anchors] @ b.t())
    ba = ab.t() if rows is None else scaled(a @ b[anchors].t()).t()
    aa = own_masked(scaled(a[anchors] @ a.t()))
    bb = own_masked(scaled(b[anchors] @ b.t()))
    loss_a = F.cross_entropy(torch.cat([ab, aa], dim=1), target, reduction='sum') / n
    loss_b = F.cross_entropy(torch.cat([ba, bb], dim=1), target, reduction='sum') / n
    return 0.5 * (loss_a + loss_b)
