r"""A :class:`~psqe_pyg.readers.RawPair` (what the folder readers return) -> the pair
:class:`~torch_geometric.data.HeteroData`: names, the customary split, image features, provenance."""
from __future__ import annotations

import logging
import os
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.pair.schema import KGSide, build_pair
from psqe_pyg.readers.images import load_image_features
from psqe_pyg.readers.io import DataFormatError, count_blank_lines, uri_local_name
from psqe_pyg.readers.layouts import RawKG, RawPair, check_disjoint

__all__ = ['pair_from_raw', 'random_split_masks']

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def _final_names(kg: RawKG) -> tuple[list[str], int]:
    r"""A name per entity (the URI / label local name where none is given) and the fallbacks."""
    table = kg.entities
    given = kg.names if kg.names is not None else [None] * len(table)
    out, fallbacks = [], 0
    for i, (name, uri) in enumerate(zip(given, table.uri)):
        if not name:
            name = uri_local_name(uri)
            fallbacks += 1
        if not name:
            raise DataFormatError(table.path, table.line[i], f'cannot derive a name from '
                                  f'{uri!r} (give one in ent_names)')
        out.append(name)
    return out, fallbacks


def random_split_masks(num_links: int, train_ratio: float, seed: int) -> tuple[Tensor, Tensor]:
    r"""The customary split of gold links: shuffle with ``torch.Generator().manual_seed(seed)``
    (``torch.randperm``), the first ``round(train_ratio * L)`` are train, the rest test."""
    if not 0.0 <= train_ratio <= 1.0:
        raise ValueError(f'train_ratio must be in [0, 1], got {train_ratio!r}')
    perm = torch.randperm(num_links, generator=torch.Generator().manual_seed(int(seed)))
    train = torch.zeros(num_links, dtype=torch.bool)
    train[perm[:int(round(train_ratio * num_links))]] = True
    return train, ~train


def pair_from_raw(
    raw: RawPair,
    *,
    dataset: str,
    name_encoder: str = 'auto',
    split_seed: int = 0,
    train_ratio: float = 0.3,
    image_features: PathLike | Sequence[PathLike] | None = None,
    image_key: str = 'none',
    uri: tuple[list[str] | None, list[str] | None] = (None, None),
) -> HeteroData:
    r"""The pair :class:`HeteroData` of :obj:`raw` (schema: :mod:`psqe_pyg.pair.schema`).

    Without a split in :obj:`raw`, the links are split by :func:`random_split_masks`
    (:obj:`train_ratio`, :obj:`split_seed`). Image features come from an EVA-style pickle keyed
    by file id (one file for both KGs needs disjoint ids) or a ``(src, tgt)`` pair of pickles.
    :obj:`uri` replaces the URIs written to ``data[side].uri`` (names are derived before).
    """
    info = dict(raw.info)
    e1, e2 = raw.kg1.entities, raw.kg2.entities
    (n1, f1), (n2, f2) = _final_names(raw.kg1), _final_names(raw.kg2)
    links, train, test = raw.links, raw.train, raw.test
    if links is not None and links.size(0) == 0:
        info['links'] = f'none ({info["links"]} is empty)'
        links = None
    if links is None:
        info['split'] = 'none (no gold links)'
        log.warning('%s: no gold links (%s): alignments are made, evaluation will be skipped',
                    dataset, info['links'])
        train = test = None
    elif train is None:
        train, test = random_split_masks(links.size(0), train_ratio, split_seed)
        info['split'] = (f'random {train_ratio:g}/{1 - train_ratio:g} of the gold links, '
                         f'torch.Generator().manual_seed({split_seed})')
    elif test is None:
        test = ~train
    images = None
    if image_features is not None:
        paths = [image_features] if isinstance(image_features, (str, os.PathLike)) else \
            list(image_features)
        if len(paths) == 1:
            check_disjoint(e1, e2, f'one image file keyed by global id ({paths[0]}); give a '
                           '(src, tgt) pair of files instead')
        images = load_image_features(paths[0] if len(paths) == 1 else paths, e1.file_id,
                                     e2.file_id)
    skipped = {p.name: n for p in raw.files if (n := count_blank_lines(p))}
    if skipped:
        log.info('%s: skipped blank lines: %s', dataset, skipped)
    loops = {k: v for k, v in info.pop('self_loops', {}).items() if v}
    meta = dict(dataset=dataset, name_encoder=name_encoder, names_from_uri=f1 + f2,
                image_features=image_key, blank_lines_skipped=skipped,
                self_loops_kept=loops, **info)
    src = KGSide(e1.file_id, uri[0] or e1.uri, n1, raw.kg1.triples,
                 relations=None if raw.kg1.relation_uri is None else list(raw.kg1.relation_uri),
                 relation_uri=raw.kg1.relation_uri, attrs=raw.kg1.attrs)
    tgt = KGSide(e2.file_id, uri[1] or e2.uri, n2, raw.kg2.triples,
                 relations=None if raw.kg2.relation_uri is None else list(raw.kg2.relation_uri),
                 relation_uri=raw.kg2.relation_uri, attrs=raw.kg2.attrs)
    return build_pair(src, tgt, links, train, test, name_encoder=name_encoder, images=images,
                      meta=meta)
