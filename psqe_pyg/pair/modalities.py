"""Modality access and feature fusion shared by the PSQE stages and the aligner.

Notation of DESIGN §4: P(e) is the primary modality (the image where the entity has one, else its name),
A(e) the attribute features, R(e) the relation features, n(.) row-wise L2 normalisation.

A and R may be sparse COO tensors (the bags of :mod:`psqe_pyg.features.bags`): they stay sparse here and
are densified only by row tiles (:mod:`psqe_pyg.ops.rows`, at most
:data:`~psqe_pyg.ops.rows.TILE_ELEMS` elements a tile), so no function allocates ``N x vocabulary``; the
values are bit for bit those of the dense computation.
"""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.ops._backend import all_finite
from psqe_pyg.ops.rows import TILE_ELEMS, cat_columns, gather_rows, normalize_rows, tile_rows
from psqe_pyg.pair.schema import SIDES

MODALITIES = ('x_img', 'x_name', 'x_attr', 'x_rel')


class Modalities(NamedTuple):
    """The modality blocks of one KG; a block is ``None`` when the pair lacks it."""
    primary: Tensor | None  # [N, d_img + d_name], zero-padded: the image block where img_mask, else the name block
    attr: Tensor | None  # [N, d_attr], dense or sparse COO
    rel: Tensor | None  # [N, d_rel], dense or sparse COO


def pair_features(data: HeteroData, name: str) -> tuple[Tensor, Tensor] | None:
    """``(src, tgt)``: the feature ``name`` of both KGs, as float32 (a sparse tensor stays sparse), or ``None``
    when neither KG has it.

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
        if not all_finite(x):
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
    """Returns the normalised modality blocks of ``'src'`` and ``'tgt'`` (sparse attribute / relation bags stay
    sparse).

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
            attr=None if get('x_attr') is None else normalize_rows(get('x_attr')),
            rel=None if get('x_rel') is None else normalize_rows(get('x_rel')),
        ))
    return out[0], out[1]


def fuse(blocks: list[Tensor | None], weights: list[float], rows: Tensor | None = None) -> Tensor:
    """Concatenates ``weight * n(block)`` over the blocks that are present: dense ``[N, sum d]``, or only the
    rows ``rows`` (``[len(rows), sum d]``, gathered before anything is densified). Blocks may be sparse."""
    present = [(b, w) for b, w in zip(blocks, weights) if b is not None and w != 0]
    if not present:
        raise ValueError('no modality with a non-zero weight is present')
    if rows is None and any(b.layout != torch.strided for b, _ in present):
        rows = torch.arange(present[0][0].size(0), device=present[0][0].device)
    parts = [w * F.normalize(b if rows is None else gather_rows(b, rows), dim=-1) for b, w in present]
    return torch.cat(parts, dim=-1)


def fused_features(mods: Modalities, weights: tuple[float, float, float], rows: Tensor | None = None) -> Tensor:
    """f(e) = [w_P n(P) || w_A n(A) || w_R n(R)] over the present modalities: dense ``[N, d]`` (or the rows
    ``rows`` only, ``[len(rows), d]``)."""
    return fuse([mods.primary, mods.attr, mods.rel], list(weights), rows)


def fused_pair(src: Modalities, tgt: Modalities, weights: tuple[float, float, float],
               budget: int = TILE_ELEMS) -> Tensor:
    """``[N_src + N_tgt, d]``: the fused features of both KGs in one dense buffer, written in row tiles of at most
    ``budget`` elements (no per-side copy, no dense copy of a sparse block)."""
    first = next(b for b in src if b is not None)
    sizes = [next(b for b in mods if b is not None).size(0) for mods in (src, tgt)]
    width = fused_features(src, weights, rows=torch.zeros(0, dtype=torch.long, device=first.device)).size(1)
    out = torch.empty(sum(sizes), width, dtype=first.dtype, device=first.device)
    step, offset = tile_rows(width, budget), 0
    for mods, n in zip((src, tgt), sizes):
        for start in range(0, n, step):
            rows = torch.arange(start, min(start + step, n), device=first.device)
            out[offset + start:offset + start + rows.numel()] = fused_features(mods, weights, rows)
        offset += n
    return out


def secondary_features(mods: Modalities) -> Tensor | None:
    """n([n(R) || n(A)]) over the present secondary modalities (sparse when a bag is sparse), or ``None`` when
    there is none."""
    parts = [b for b in (mods.rel, mods.attr) if b is not None]  # already n(R), n(A)
    return normalize_rows(cat_columns(parts)) if parts else None
