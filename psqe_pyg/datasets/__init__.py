r"""KG-pair datasets (PyG :class:`~torch_geometric.data.InMemoryDataset` s of one
:class:`~torch_geometric.data.HeteroData` each) and the spec-string front door.

=====================================  =====================================================
:class:`DBP15K`                        zh_en, ja_en, fr_en (JAPE / GCN-Align / MCLEA layout)
:class:`SRPRS`                         en_fr, en_de, dbp_wd, dbp_yg 15K V1 (RSN layout)
:class:`KGPairFolder`                  your own pair: a folder in the OpenEA or the id layout
:class:`SyntheticKGPair`               a generated pair with known truth (the default data)
:func:`load_dataset`                   ``'DBP15K/zh_en'``, ``'SRPRS/en_fr'``, ``'synthetic'``, a folder
:func:`dataset_summary`                counts and modalities of a pair (``psqe-pyg info``)
=====================================  =====================================================
"""
from __future__ import annotations

import os
from typing import Any

from torch_geometric.data import HeteroData

from psqe_pyg.pair.schema import REL, SAME_AS, SIDES

from .base import CACHE_ENV, KGPairDataset
from .dbp15k import DBP15K
from .folder import KGPairFolder
from .srprs import SRPRS
from .synthetic import SyntheticKGPair

__all__ = [
    'CACHE_ENV',
    'DATA_ENV',
    'DBP15K',
    'KGPairDataset',
    'KGPairFolder',
    'SRPRS',
    'SyntheticKGPair',
    'dataset_summary',
    'load_dataset',
    'valid_specs',
]

DATA_ENV = 'PSQE_PYG_DATA'


def valid_specs() -> list[str]:
    r"""Every spec :func:`load_dataset` accepts."""
    return ([f'DBP15K/{p}' for p in DBP15K.pairs] + [f'SRPRS/{n}' for n in SRPRS.names] +
            ['synthetic'])


def load_dataset(spec: str | os.PathLike, root: str | os.PathLike | None = None,
                 **kwargs: Any) -> HeteroData:
    r"""Loads a KG pair by name or from a folder and returns its :class:`HeteroData`.

    Args:
        spec: ``'DBP15K/<zh_en|ja_en|fr_en>'``, ``'SRPRS/<en_fr|en_de|dbp_wd|dbp_yg>'``,
            ``'synthetic'`` (case-insensitive; ``'SRPRS/en_fr_15k_V1'`` also works), or the path
            of a folder holding a pair in the OpenEA or the id layout (:class:`KGPairFolder`; a
            registered name wins over a folder of the same name: write ``./DBP15K/zh_en``).
        root: the folder that holds ``DBP15K/`` and ``SRPRS/`` (default: ``$PSQE_PYG_DATA``);
            ignored for ``'synthetic'`` and folders.
        **kwargs: passed to the dataset class (e.g. ``name_encoder='hash'``,
            ``image_features=...``, ``split_seed=1``; for folders ``fold=...``; for synthetic
            ``num_entities=...``, ``seed=...``).

    Raises:
        ValueError: unknown spec and no such folder (the message lists the valid ones) or no
            root.
        FileNotFoundError: a path that is a file, or a folder that matches no layout.
    """
    if isinstance(spec, os.PathLike):
        return KGPairFolder(spec, **kwargs)[0]
    if not isinstance(spec, str):
        raise TypeError(f'dataset spec must be a string or a path, got {type(spec).__name__}')
    valid = valid_specs()
    norm = spec.strip().replace('\\', '/').strip('/')
    family, _, sub = norm.partition('/')
    family = family.lower()
    if family == 'synthetic' and not sub:
        kwargs.pop('root', None)
        return SyntheticKGPair(None, **kwargs)[0]
    if family in ('dbp15k', 'srprs') and sub:
        sub_l = sub.lower()
        if family == 'srprs' and sub_l.endswith('_15k_v1'):
            sub_l = sub_l[:-len('_15k_v1')]
        allowed = DBP15K.pairs if family == 'dbp15k' else SRPRS.names
        if sub_l in allowed:
            if root is None:
                root = os.environ.get(DATA_ENV)
            if root is None:
                raise ValueError(
                    f'load_dataset({spec!r}): no data root; pass root= (the folder that holds '
                    f'DBP15K/ and SRPRS/) or set ${DATA_ENV}')
            cls = DBP15K if family == 'dbp15k' else SRPRS
            return cls(root, sub_l, **kwargs)[0]
    if os.path.isdir(spec):
        return KGPairFolder(spec, **kwargs)[0]
    if os.path.exists(spec):
        raise FileNotFoundError(f'{spec}: not a folder (expected a folder holding a KG pair, or '
                                f'one of: {", ".join(valid)})')
    raise ValueError(f'unknown dataset {spec!r} (and no such folder); valid: {", ".join(valid)}, '
                     'or a folder holding a KG pair (OpenEA or id layout)')


def dataset_summary(data: HeteroData) -> dict[str, Any]:
    r"""Counts and modalities of a pair, for reports and ``psqe-pyg info``.

    Returns:
        ``{'src': {...}, 'tgt': {...}, 'links': {'total', 'train', 'test'}, 'meta': {...}}``; each
        side has ``entities``, ``relation_triples``, ``relations``, ``modalities`` (``{name: dim}``
        for ``x_name`` / ``x_img`` / ``x_attr`` / ``x_rel``, keys without the ``x_`` prefix) and,
        when images are present, ``with_image`` (entities whose ``img_mask`` is True).
    """
    out: dict[str, Any] = {}
    for key in SIDES:
        store = data[key]
        side: dict[str, Any] = {'entities': int(store.num_nodes)}
        if REL[key] in data.edge_types:
            rel = data[REL[key]]
            side['relation_triples'] = int(rel.edge_index.size(1))
            side['relations'] = int(rel.num_relations) if 'num_relations' in rel else (
                int(rel.edge_type.max()) + 1 if rel.edge_type.numel() else 0)
        else:
            side['relation_triples'] = 0
            side['relations'] = 0
        side['modalities'] = {
            k[2:]: int(store[k].size(1))
            for k in ('x_name', 'x_img', 'x_attr', 'x_rel') if k in store
        }
        if 'img_mask' in store:
            side['with_image'] = int(store.img_mask.sum())
        out[key] = side
    if SAME_AS in data.edge_types:
        same = data[SAME_AS]
        L = int(same.edge_index.size(1))
        out['links'] = {
            'total': L,
            'train': int(same.train_mask.sum()) if 'train_mask' in same else 0,
            'test': int(same.test_mask.sum()) if 'test_mask' in same else L,
        }
    else:
        out['links'] = {'total': 0, 'train': 0, 'test': 0}
    meta = data.meta if 'meta' in data else None
    if isinstance(meta, dict):
        out['meta'] = dict(meta)
    return out
