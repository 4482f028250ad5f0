r"""Adapters from other libraries' KG-pair objects to the pair :class:`HeteroData`."""
from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.data import Data, HeteroData

from psqe_pyg.pair.schema import KGSide, PairValidationError, build_pair

__all__ = ['from_pyg_dbp15k']


def _pooled_names(x: Tensor, what: str) -> Tensor:
    r"""``[N, d]`` name features: ``x`` itself, or the mean of the non-padding word vectors of
    ``[N, words, d]`` (rows that are all zero are padding)."""
    if x.dim() == 2:
        return x.float()
    if x.dim() != 3:
        raise PairValidationError(f'{what}: expected [N, d] or [N, words, d] name features, got '
                                  f'shape {tuple(x.shape)}')
    words = (x != 0).any(dim=-1)
    count = words.sum(dim=1, keepdim=True).clamp(min=1)
    return (x.float() * words.unsqueeze(-1)).sum(dim=1) / count


def _side(data: Data, k: int) -> KGSide:
    x, edge_index, rel = (data[f'x{k}'], data[f'edge_index{k}'], data[f'rel{k}'])
    x_name = _pooled_names(x, f'x{k}')
    n = x_name.size(0)
    if edge_index.dim() != 2 or edge_index.size(0) != 2 or rel.dim() != 1 or \
            rel.numel() != edge_index.size(1):
        raise PairValidationError(f'edge_index{k} / rel{k}: expected [2, E] and [E], got '
                                  f'{tuple(edge_index.shape)} and {tuple(rel.shape)}')
    triples = torch.stack([edge_index[0], rel, edge_index[1]], dim=1).long().cpu()
    ids = torch.arange(n)
    uri = [str(i) for i in range(n)]
    return KGSide(ids, uri, uri, triples, x_name=x_name.cpu())


def from_pyg_dbp15k(data: Data, *, name: str = 'torch_geometric.datasets.DBP15K') -> HeteroData:
    r"""The pair :class:`HeteroData` of one :class:`torch_geometric.datasets.DBP15K` graph.

    That dataset stores a pair as one :class:`~torch_geometric.data.Data` with ``x1`` /
    ``x2`` (``[N, words, 300]`` zero-padded word vectors of each entity's name),
    ``edge_index1`` / ``edge_index2`` (``[2, E]`` local ids), ``rel1`` / ``rel2`` (``[E]``
    relation ids) and the gold links ``train_y`` / ``test_y`` (``[2, L]``, KG1 row 0, KG2 row 1).

    Returns a pair with ``x_name`` = the mean of each entity's word vectors (``x1`` given as
    ``[N, d]`` is used as is), ``x_rel`` relation bags, entities named by their local id
    (``uri`` = ``name`` = ``'0'``, ``'1'``, ...), relation ids renumbered ``0..R-1`` per KG in
    ascending order, and the links ``train_y`` then ``test_y`` with ``train_mask`` /
    ``test_mask`` marking them. The input is not modified.
    """
    for key in ('x1', 'edge_index1', 'rel1', 'x2', 'edge_index2', 'rel2', 'train_y', 'test_y'):
        if key not in data:
            raise PairValidationError(f'{name}: missing {key!r} (expected x1, edge_index1, '
                                      'rel1, x2, edge_index2, rel2, train_y, test_y)')
    src, tgt = _side(data, 1), _side(data, 2)
    parts = []
    for key in ('train_y', 'test_y'):
        y = data[key]
        if y.dim() != 2 or y.size(0) != 2:
            raise PairValidationError(f'{key}: expected [2, L] links, got {tuple(y.shape)}')
        parts.append(y.t().long().cpu())
    links = torch.cat(parts)
    train = torch.zeros(links.size(0), dtype=torch.bool)
    train[:parts[0].size(0)] = True
    meta = dict(dataset=name, split='train_y / test_y of the PyG dataset',
                names='mean word vectors of x1 / x2')
    return build_pair(src, tgt, links, train, ~train, meta=meta)
