r"""DBP15K (cross-lingual DBpedia; Sun et al., JAPE, ISWC 2017) in the GCN-Align / MCLEA layout."""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Sequence

from torch_geometric.data import HeteroData

from psqe_pyg.pair.from_raw import pair_from_raw
from psqe_pyg.readers.layouts import names_from_json, read_id_layout

from .base import KGPairDataset

__all__ = ['DBP15K']


class DBP15K(KGPairDataset):
    r"""The DBP15K cross-lingual entity-alignment benchmark as one KG-pair
    :class:`~torch_geometric.data.HeteroData` (schema: :mod:`psqe_pyg.pair.schema`).

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
        name_encoder: ``'auto'`` (MiniLM when installed, else ``'hash'``), ``'minilm'``, ``'hash'``, ``'e5'``, ``'e5-orig'`` or a ``+`` mix
            (:func:`psqe_pyg.features.resolve_name_encoder`, :func:`psqe_pyg.features.encode_names`).
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
        raw = read_id_layout(self.raw_dir, links='ill_ent_ids')
        name_file = osp.normpath(
            osp.join(self.raw_dir, '..', 'translated_ent_name', f'dbp_{self.pair}.json'))
        raw.kg1.names, raw.kg2.names = names_from_json(name_file, raw.kg1.entities,
                                                       raw.kg2.entities)
        raw.info['names'] = f'translated_ent_name/dbp_{self.pair}.json'
        return pair_from_raw(raw, dataset=f'DBP15K/{self.pair}', name_encoder=self.name_encoder,
                             split_seed=self.split_seed, train_ratio=self.train_ratio,
                             image_features=self.image_features, image_key=self._image_key)
