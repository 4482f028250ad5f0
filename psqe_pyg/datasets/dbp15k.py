r"""DBP15K (cross-lingual DBpedia; Sun et al., JAPE, ISWC 2017) in the GCN-Align / MCLEA layout."""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.data.images import load_image_features
from psqe_pyg.data.io import (
    DataFormatError,
    EntityTable,
    read_attrs,
    read_entity_ids,
    read_links,
    read_translated_names,
    read_triples,
    uri_local_name,
)
from psqe_pyg.data.pair import KGSide, build_pair

from .base import KGPairDataset

__all__ = ['DBP15K', 'random_split_masks', 'check_disjoint', 'names_from_json']


def random_split_masks(num_links: int, train_ratio: float, seed: int) -> tuple[Tensor, Tensor]:
    r"""The customary split of gold links: shuffle with ``torch.Generator().manual_seed(seed)``
    (``torch.randperm``), the first ``round(train_ratio * L)`` are train, the rest test."""
    if not 0.0 <= train_ratio <= 1.0:
        raise ValueError(f'train_ratio must be in [0, 1], got {train_ratio!r}')
    perm = torch.randperm(num_links, generator=torch.Generator().manual_seed(int(seed)))
    train = torch.zeros(num_links, dtype=torch.bool)
    train[perm[:int(round(train_ratio * num_links))]] = True
    return train, ~train


def check_disjoint(e1: EntityTable, e2: EntityTable) -> None:
    r"""KG1 and KG2 global ids must not overlap (names and image files are keyed by them)."""
    for i, g in enumerate(e2.file_id.tolist()):
        if g in e1.index:
            raise DataFormatError(
                e2.path, e2.line[i], f'entity id {g} is also a KG1 entity id (line '
                f'{e1.line[e1.index[g]]} of {e1.path}); KG1 and KG2 ids must be disjoint')


def names_from_json(path: str, e1: EntityTable, e2: EntityTable) -> tuple[list[str], list[str],
                                                                          int]:
    r"""Names of both KGs from a translated-name JSON that covers every entity of both.

    An entity whose token list is empty gets its URI's local name (:func:`uri_local_name`)
    instead. Returns ``(src_names, tgt_names, number of URI fallbacks)``.
    """
    tokens = read_translated_names(path)
    out = []
    fallbacks = 0
    for table, kg in ((e1, 'KG1'), (e2, 'KG2')):
        names = []
        for i, g in enumerate(table.file_id.tolist()):
            tok = tokens.get(g)
            if tok is None:
                raise DataFormatError(
                    path, None, f'no name for entity {g} of {kg} (line {table.line[i]} of '
                    f'{table.path}): the name file must cover every entity of both KGs')
            name = ' '.join(tok).strip()
            if not name:
                name = uri_local_name(table.uri[i])
                fallbacks += 1
            names.append(name)
        out.append(names)
    known = set(e1.index) | set(e2.index)
    for g in tokens:
        if g not in known:
            raise DataFormatError(path, None, f'entity id {g} is an entity of neither KG '
                                  f'({e1.path}, {e2.path}): is this the name file of another '
                                  'dataset?')
    return out[0], out[1], fallbacks


class DBP15K(KGPairDataset):
    r"""The DBP15K cross-lingual entity-alignment benchmark as one KG-pair
    :class:`~torch_geometric.data.HeteroData` (schema: :mod:`psqe_pyg.data.pair`).

    Reads ``<root>/DBP15K/<pair>/{ent_ids_1,ent_ids_2,triples_1,triples_2,ill_ent_ids}`` and the
    machine-translated English names ``<root>/DBP15K/translated_ent_name/dbp_<pair>.json``
    (``x_name``). ``'src'`` is the non-English KG (KG1), ``'tgt'`` English DBpedia (KG2).
    Modalities: ``x_name`` (names), ``x_rel`` (relation bags, 1000 d), ``x_img`` + ``img_mask`` when
    :obj:`image_features` is given (EVA/MCLEA pickle), ``x_attr`` only when
    ``training_attrs_1`` and ``training_attrs_2`` are present in the pair folder (the public DBP15K
    release has no attribute-name files in this layout).

    The 15,000 gold links carry no split; the customary one is used: the links are shuffled with
    ``torch.Generator().manual_seed(split_seed)`` and the first ``round(train_ratio * 15000)`` (30%
    = 4,500) are ``train_mask``, the other 70% ``test_mask``. Unsupervised runs never read them.

    Args:
        root: the folder holding ``DBP15K/``.
        pair: ``'zh_en'``, ``'ja_en'`` or ``'fr_en'``.
        processed_dir: where to cache the processed file (see :class:`KGPairDataset`).
        name_encoder: ``'auto'``, ``'minilm'`` or ``'hash'``
            (:func:`psqe_pyg.features.encode_names`).
        image_features: an EVA-style pickle ``{global_id: vector}`` covering both KGs, or a
            ``(src_path, tgt_path)`` pair.
        split_seed, train_ratio: the gold-link split.
        transform, pre_transform: as in PyG.
        force_reload: rebuild the processed file.
    """

    dataset_name = 'DBP15K'
    pairs = ('zh_en', 'ja_en', 'fr_en')

    def __init__(
        self,
        root: str | os.PathLike,
        pair: str,
        *,
        processed_dir: str | os.PathLike | None = None,
        name_encoder: str = 'auto',
        image_features: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        split_seed: int = 0,
        train_ratio: float = 0.3,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
    ):
        if pair not in self.pairs:
            raise ValueError(f'DBP15K: unknown pair {pair!r}; expected one of {list(self.pairs)}')
        if not 0.0 <= train_ratio <= 1.0:
            raise ValueError(f'DBP15K: train_ratio must be in [0, 1], got {train_ratio!r}')
        self.split_seed = int(split_seed)
        self.train_ratio = float(train_ratio)
        super().__init__(root, pair, processed_dir=processed_dir, name_encoder=name_encoder,
                         image_features=image_features, transform=transform,
                         pre_transform=pre_transform, force_reload=force_reload, log=log)

    def optional_raw_files(self) -> list[str]:
        return ['training_attrs_1', 'training_attrs_2']

    def raw_files(self) -> dict[str, str]:
        return {
            'ent_ids_1': 'entity ids of KG1 (id<TAB>uri)',
            'ent_ids_2': 'entity ids of KG2 (id<TAB>uri)',
            'triples_1': 'relation triples of KG1 (head<TAB>relation<TAB>tail)',
            'triples_2': 'relation triples of KG2 (head<TAB>relation<TAB>tail)',
            'ill_ent_ids': 'gold links (KG1 id<TAB>KG2 id)',
            f'../translated_ent_name/dbp_{self.pair}.json':
            'translated entity names (JSON [[global_id, [token, ...]], ...])',
        }

    def cache_key(self) -> str:
        return (f'{super().cache_key()}_split-s{self.split_seed}-r{self.train_ratio:g}')

    def build(self) -> HeteroData:
        raw = self.raw_dir
        files = self.raw_files()
        e1 = read_entity_ids(osp.join(raw, 'ent_ids_1'), files['ent_ids_1'])
        e2 = read_entity_ids(osp.join(raw, 'ent_ids_2'), files['ent_ids_2'])
        check_disjoint(e1, e2)
        t1 = read_triples(osp.join(raw, 'triples_1'), e1, purpose=files['triples_1'])
        t2 = read_triples(osp.join(raw, 'triples_2'), e2, purpose=files['triples_2'])
        links = read_links(osp.join(raw, 'ill_ent_ids'), e1, e2, purpose=files['ill_ent_ids'])
        name_file = osp.normpath(
            osp.join(raw, '..', 'translated_ent_name', f'dbp_{self.pair}.json'))
        n1, n2, fallbacks = names_from_json(name_file, e1, e2)
        a1 = a2 = None
        attr_files = [osp.join(raw, f'training_attrs_{k}') for k in (1, 2)]
        if all(osp.isfile(p) for p in attr_files):
            a1 = read_attrs(attr_files[0], e1)
            a2 = read_attrs(attr_files[1], e2)
        train, test = random_split_masks(links.size(0), self.train_ratio, self.split_seed)
        images = None
        if self.image_features is not None:
            images = load_image_features(self.image_features if len(self.image_features) == 2
                                         else self.image_features[0], e1.file_id, e2.file_id)
        meta = dict(
            dataset=f'DBP15K/{self.pair}', name_encoder=self.name_encoder,
            names=f'translated_ent_name/dbp_{self.pair}.json', names_from_uri=fallbacks,
            image_features=self._image_key,
            split=f'random {self.train_ratio:g}/{1 - self.train_ratio:g} of the gold links, '
            f'torch.Generator().manual_seed({self.split_seed})',
            attributes='training_attrs_1/2' if a1 is not None else 'none (no attribute files)')
        src = KGSide(e1.file_id, e1.uri, n1, t1, attrs=a1)
        tgt = KGSide(e2.file_id, e2.uri, n2, t2, attrs=a2)
        return build_pair(src, tgt, links, train, test, name_encoder=self.name_encoder,
                          images=images, meta=meta)
