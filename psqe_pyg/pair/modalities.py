"""Modality access and feature fusion shared by the PSQE stages and the aligner.

Notation of DESIGN §4: P(e) is the primary modality (the image where the entity has one, else its name),
A(e) the attribute features, R(e) the relation features, n(.) row-wise L2 normalisation.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.pair.schema import SIDES

MODALITIES = ('x_img', 'x_name', 'x_attr', 'x_rel')


class Modalities(NamedTuple):
    """The modality blocks of one KG; a block is ``None`` when the pair lacks it."""
    primary: Tensor | None  # [N, d_img + d_name], zero-padded: the image block where img_mask, else the name block
    attr: Tensor | None  # [N, d_attr]
    rel: Tensor | None  # [N, d_rel]


def pair_features(data: HeteroData, name: str) -> tuple[Tensor, Tensor] | None:
    """``(src, tgt)``: the feature ``name`` of both KGs, as float32, or ``None`` when neither KG has it.

    Raises a :class:`ValueError` naming the tensor when it is present on one side only, is not a 2-D float
    tensor with one row per entity, holds NaN/inf, or has different widths on the two sides.
    """
    present = [name in data[nt] for nt in SIDES]
    if not any(present):
        return None
    if not all(present):
        missing = SIDES[present.index(False)]
        raise ValueError(f"data['{missing}'].{name} is missing while the other KG has it; "
                         f"both KGs need the same modalities")
    xs = []
    for nt in SIDES:
        x = data[nt][name]
        if not isinstance(x, Tensor) or x.dim() != 2 or not x.is_floating_point():
            raise ValueError(f"data['{nt}'].{name} must be a 2-D float tensor, got "
                             f"{getattr(x, 'shape', type(x))} {getattr(x, 'dtype', '')}")
        if x.size(0) != data[nt].num_nodes:
            raise ValueError(f"data['{nt}'].{name} has {x.size(0)} rows, expected one per entity "
                             f"({data[nt].num_nodes})")
        if not torch.isfinite(x).all():
            raise ValueError(f"data['{nt}'].{name} holds NaN or inf values")
        xs.append(x.float())
    if xs[0].size(1) != xs[1].size(1):
        raise ValueError(f"data['src'].{name} has {xs[0].size(1)} columns but data['tgt'].{name} has "
                         f"{xs[1].size(1)}; both KGs need the same feature dimension")
    return xs[0], xs[1]


def image_mask(data: HeteroData, nt: str) -> Tensor:
    """``data[nt].img_mask`` (``[N]`` bool, True where the entity has an image), all True (on the device of
    ``x_img``) when absent."""
    store = data[nt]
    if 'img_mask' not in store:
        return torch.ones(store.num_nodes, dtype=torch.bool, device=store.x_img.device)
    mask = store.img_mask
    if mask.dtype != torch.bool or mask.shape != (store.num_nodes,):
        raise ValueError(f"data['{nt}'].img_mask must be a bool tensor of shape [{store.num_nodes}], "
                         f"got {mask.dtype} {tuple(mask.shape)}")
    return mask


def _primary(img: Tensor | None, name: Tensor | None, mask: Tensor | None) -> Tensor | None:
    if img is None:
        return None if name is None else F.normalize(name, dim=-1)
    img = F.normalize(img, dim=-1) * mask.unsqueeze(-1)
    if name is None:
        return img
    name = F.normalize(name, dim=-1) * (~mask).unsqueeze(-1)
    return torch.cat([img, name], dim=-1)


def get_modalities(data: HeteroData) -> tuple[Modalities, Modalities]:
    """Returns the normalised modality blocks of ``'src'`` and ``'tgt'``.

    Raises a :class:`ValueError` naming the tensor when a modality is malformed, present on one side only,
    or when the pair has no modality at all.
    """
    feats = {name: pair_features(data, name) for name in MODALITIES}
    if all(v is None for v in feats.values()):
        raise ValueError("the pair has no entity features: expected at least one of "
                         f"{', '.join(MODALITIES)} on data['src'] and data['tgt']")
    out = []
    for i, nt in enumerate(SIDES):
        get = lambda name: None if feats[name] is None else feats[name][i]  # noqa: E731
        out.append(Modalities(
            primary=_primary(get('x_img'), get('x_name'), None if get('x_img') is None else image_mask(data, nt)),
            attr=None if get('x_attr') is None else F.normalize(get('x_attr'), dim=-1),
            rel=None if get('x_rel') is None else F.normalize(get('x_rel'), dim=-1),
        ))
    return out[0], out[1]


def fuse(blocks: list[Tensor | None], weights: list[float]) -> Tensor:
    """Concatenates ``weight * n(block)`` over the blocks that are present: ``[N, sum d]``."""
    parts = [w * F.normalize(b, dim=-1) for b, w in zip(blocks, weights) if b is not None and w != 0]
    if not parts:
        raise ValueError('no modality with a non-zero weight is present')
    return torch.cat(parts, dim=-1)


def fused_features(mods: Modalities, weights: tuple[float, float, float]) -> Tensor:
    """f(e) = [w_P n(P) || w_A n(A) || w_R n(R)] over the present modalities: ``[N, d]``."""
    return fuse([mods.primary, mods.attr, mods.rel], list(weights))


def secondary_features(mods: Modalities) -> Tensor | None:
    """n([n(R) || n(A)]) over the present secondary modalities, or ``None`` when there is none."""
    parts = [b for b in (mods.rel, mods.attr) if b is not None]
    return F.normalize(torch.cat(parts, dim=-1), dim=-1) if parts else None
