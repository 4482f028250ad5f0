r"""SRPRS 15K V1 (Guo et al., RSN, ICML 2019): sparse, real-world degree distributions."""
from __future__ import annotations

import os
import os.path as osp
from pathlib import Path
from typing import Callable, Sequence

from torch_geometric.data import HeteroData

from psqe_pyg.pair.from_raw import pair_from_raw
from psqe_pyg.readers.io import DataFormatError, EntityTable, read_entity_ids
from psqe_pyg.readers.layouts import names_from_json, read_id_layout

from .base import KGPairDataset

__all__ = ['SRPRS']


class SRPRS(KGPairDataset):
    r"""An SRPRS 15K V1 set as one KG-pair :class:`~torch_geometric.data.HeteroData` (schema:
    :mod:`psqe_pyg.pair.schema`).

    Reads ``<root>/SRPRS/<name>_15k_V1/{ent_ids_1,ent_ids_2,triples_1,triples_2,rel_ids_1,
    rel_ids_2,ref_ent_ids,sup_ent_ids}`` (``'src'`` = KG1 = English DBpedia) with the generic
    id-layout reader :func:`psqe_pyg.readers.read_id_layout`.

    * **Split**: the dataset's own: ``train_mask`` = the links of ``sup_ent_ids`` (4,500),
      ``test_mask`` = ``ref_ent_ids`` minus those (10,500).
    * **Names** (``x_name``): ``en_fr`` / ``en_de`` use the translated names
      ``<root>/SRPRS/translated_ent_name/srprs_{fr,de}_en.json``; ``dbp_wd`` and ``dbp_yg`` use
      the last path segment of KG1's DBpedia URIs and of KG2's Wikidata labels (``ent_ids_2``) /
      YAGO URIs, underscores -> spaces. For ``dbp_wd``, ``data['tgt'].uri`` holds the Wikidata Q-id URIs of
      ``ent_ids_2_old`` when that file is present (else the labels).
    * **Relations**: relation ids from ``rel_ids_1/2`` (every triple's relation must be listed);
      ``relation_info['uri']`` keeps the relation URIs.
    * **Attributes** (``x_attr``): attribute-name bags over a vocabulary shared by both KGs, built
      only when BOTH ``training_attrs_1`` and ``training_attrs_2`` exist. ``dbp_wd`` ships only
      ``training_attrs_1``, so it has NO ``x_attr`` on either side (a one-sided bag could not be
      compared across the KGs); ``data.meta['attributes']`` says so.

    Args:
        root: the folder holding ``SRPRS/``.
        name: ``'en_fr'``, ``'en_de'``, ``'dbp_wd'`` or ``'dbp_yg'`` (``'en_fr_15k_V1'`` etc.
            accepted too).
        processed_dir, name_encoder, image_features, transform, pre_transform, force_reload: as in
            :class:`~psqe_pyg.datasets.DBP15K`.
    """

    dataset_name = 'SRPRS'
    names = ('en_fr', 'en_de', 'dbp_wd', 'dbp_yg')

    def __init__(
        self,
        root: str | os.PathLike,
        name: str,
        *,
        processed_dir: str | os.PathLike | None = None,
        name_encoder: str = 'auto',
        image_features: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
    ):
        short = name[:-len('_15k_V1')] if name.endswith('_15k_V1') else name
        if short not in self.names:
            raise ValueError(f'SRPRS: unknown set {name!r}; expected one of {list(self.names)}')
        super().__init__(root, short, processed_dir=processed_dir, name_encoder=name_encoder,
                         image_features=image_features, transform=transform,
                         pre_transform=pre_transform, force_reload=force_reload, log=log)

    @property
    def name(self) -> str:
        return self.pair

    @property
    def folder(self) -> str:
        return f'{self.pair}_15k_V1'

    def _name_file(self) -> str | None:
        lang = {'en_fr': 'fr', 'en_de': 'de'}.get(self.pair)
        return None if lang is None else f'../translated_ent_name/srprs_{lang}_en.json'

    def optional_raw_files(self) -> list[str]:
        return ['training_attrs_1', 'training_attrs_2', 'ent_ids_2_old']

    def raw_files(self) -> dict[str, str]:
        files = {
            'ent_ids_1': 'entity ids of KG1 (id<TAB>uri)',
            'ent_ids_2': 'entity ids of KG2 (id<TAB>uri, or id<TAB>label for dbp_wd)',
            'triples_1': 'relation triples of KG1 (head<TAB>relation<TAB>tail)',
            'triples_2': 'relation triples of KG2 (head<TAB>relation<TAB>tail)',
            'rel_ids_1': 'relation ids of KG1 (id<TAB>relation uri)',
            'rel_ids_2': 'relation ids of KG2 (id<TAB>relation uri)',
            'ref_ent_ids': 'all gold links (KG1 id<TAB>KG2 id)',
            'sup_ent_ids': 'the training gold links (KG1 id<TAB>KG2 id)',
        }
        name_file = self._name_file()
        if name_file is not None:
            files[name_file] = 'translated entity names (JSON [[global_id, [token, ...]], ...])'
        return files

    def build(self) -> HeteroData:
        raw = read_id_layout(self.raw_dir, links='ref_ent_ids')
        e1, e2 = raw.kg1.entities, raw.kg2.entities
        tgt_uri = None
        if self._name_file() is not None:
            json_path = osp.normpath(osp.join(self.raw_dir, self._name_file()))
            raw.kg1.names, raw.kg2.names = names_from_json(json_path, e1, e2)
            raw.info['names'] = osp.relpath(json_path, osp.join(self.root, self.dataset_name))
        else:  # dbp_wd / dbp_yg: DBpedia URIs for KG1, Wikidata labels / YAGO URIs for KG2
            raw.info['names'] = 'URI local names (KG1), URI / label local names (KG2)'
            old = osp.join(self.raw_dir, 'ent_ids_2_old')
            if osp.isfile(old):
                tgt_uri = self._old_uris(old, e2)
                raw.files.append(Path(old))
        return pair_from_raw(raw, dataset=f'SRPRS/{self.pair}', name_encoder=self.name_encoder,
                             image_features=self.image_features, image_key=self._image_key,
                             uri=(None, tgt_uri))

    @staticmethod
    def _old_uris(path: str, e2: EntityTable) -> list[str]:
        r"""KG2's Wikidata Q-id URIs from ``ent_ids_2_old``, in ``ent_ids_2`` order."""
        e2_old = read_entity_ids(path, 'Wikidata URIs of KG2 (id<TAB>uri)')
        for i, g in enumerate(e2.file_id.tolist()):
            if g not in e2_old.index:
                raise DataFormatError(path, None, f'entity id {g} of ent_ids_2 (line '
                                      f'{e2.line[i]}) has no URI here')
        if len(e2_old) != len(e2):
            extra = next(g for g in e2_old.file_id.tolist() if g not in e2.index)
            raise DataFormatError(path, e2_old.line[e2_old.index[extra]],
                                  f'entity id {extra} is not in ent_ids_2')
        return [e2_old.uri[e2_old.index[g]] for g in e2.file_id.tolist()]
