r"""SRPRS 15K V1 (Guo et al., RSN, ICML 2019): sparse, real-world degree distributions."""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Sequence

import torch
from torch_geometric.data import HeteroData

from psqe_pyg.data.images import load_image_features
from psqe_pyg.data.io import (
    DataFormatError,
    read_attrs,
    read_entity_ids,
    read_links,
    read_rel_ids,
    read_triples,
    uri_local_name,
)
from psqe_pyg.data.pair import KGSide, build_pair

from .base import KGPairDataset
from .dbp15k import check_disjoint, names_from_json

__all__ = ['SRPRS']


class SRPRS(KGPairDataset):
    r"""An SRPRS 15K V1 set as one KG-pair :class:`~torch_geometric.data.HeteroData` (schema:
    :mod:`psqe_pyg.data.pair`).

    Reads ``<root>/SRPRS/<name>_15k_V1/{ent_ids_1,ent_ids_2,triples_1,triples_2,rel_ids_1,
    rel_ids_2,ref_ent_ids,sup_ent_ids}`` (``'src'`` = KG1 = English DBpedia).

    * **Split**: the dataset's own: ``train_mask`` = the links of ``sup_ent_ids`` (4,500),
      ``test_mask`` = ``ref_ent_ids`` minus those (10,500).
    * **Names** (``x_name``): ``en_fr`` / ``en_de`` use the translated names
      ``<root>/SRPRS/translated_ent_name/srprs_{fr,de}_en.json``; ``dbp_wd`` uses the last path
      segment of KG1's DBpedia URIs and KG2's Wikidata labels (``ent_ids_2``), underscores ->
      spaces. For ``dbp_wd``, ``data['tgt'].uri`` holds the Wikidata Q-id URIs of
      ``ent_ids_2_old`` when that file is present (else the labels).
    * **Relations**: relation ids from ``rel_ids_1/2`` (every triple's relation must be listed);
      ``relation_info['uri']`` keeps the relation URIs.
    * **Attributes** (``x_attr``): attribute-name bags over a vocabulary shared by both KGs, built
      only when BOTH ``training_attrs_1`` and ``training_attrs_2`` exist. ``dbp_wd`` ships only
      ``training_attrs_1``, so it has NO ``x_attr`` on either side (a one-sided bag could not be
      compared across the KGs); ``data.meta['attributes']`` says so.

    Args:
        root: the folder holding ``SRPRS/``.
        name: ``'en_fr'``, ``'en_de'`` or ``'dbp_wd'`` (``'en_fr_15k_V1'`` etc. accepted too).
        processed_dir, name_encoder, image_features, transform, pre_transform, force_reload: as in
            :class:`~psqe_pyg.datasets.DBP15K`.
    """

    dataset_name = 'SRPRS'
    names = ('en_fr', 'en_de', 'dbp_wd')

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
        raw = self.raw_dir
        files = self.raw_files()

        def path(f):
            return osp.join(raw, f)

        e1 = read_entity_ids(path('ent_ids_1'), files['ent_ids_1'])
        e2 = read_entity_ids(path('ent_ids_2'), files['ent_ids_2'])
        check_disjoint(e1, e2)
        r1 = read_rel_ids(path('rel_ids_1'), files['rel_ids_1'])
        r2 = read_rel_ids(path('rel_ids_2'), files['rel_ids_2'])
        t1 = read_triples(path('triples_1'), e1, r1, purpose=files['triples_1'])
        t2 = read_triples(path('triples_2'), e2, r2, purpose=files['triples_2'])
        ref = read_links(path('ref_ent_ids'), e1, e2, purpose=files['ref_ent_ids'])
        sup, sup_lines = read_links(path('sup_ent_ids'), e1, e2, purpose=files['sup_ent_ids'],
                                    with_lines=True)
        ref_pos = {(a, b): i for i, (a, b) in enumerate(ref.tolist())}
        train = torch.zeros(ref.size(0), dtype=torch.bool)
        for (a, b), line in zip(sup.tolist(), sup_lines):
            i = ref_pos.get((a, b))
            if i is None:
                raise DataFormatError(path('sup_ent_ids'), line,
                                      f'training link {a} -> {b} is not in ref_ent_ids')
            train[i] = True

        fallbacks = 0
        src_uri, tgt_uri = e1.uri, e2.uri
        if self._name_file() is not None:
            json_path = osp.normpath(path(self._name_file()))
            n1, n2, fallbacks = names_from_json(json_path, e1, e2)
            names_src = osp.relpath(json_path, osp.join(self.root, self.dataset_name))
        else:  # dbp_wd: DBpedia URIs for KG1, Wikidata labels for KG2
            n1 = [uri_local_name(u) for u in e1.uri]
            n2 = [uri_local_name(u) for u in e2.uri]
            names_src = 'URI local names (KG1), labels of ent_ids_2 (KG2)'
            old = path('ent_ids_2_old')
            if osp.isfile(old):
                e2_old = read_entity_ids(old, 'Wikidata URIs of KG2 (id<TAB>uri)')
                for i, g in enumerate(e2.file_id.tolist()):
                    if g not in e2_old.index:
                        raise DataFormatError(old, None, f'entity id {g} of ent_ids_2 (line '
                                              f'{e2.line[i]}) has no URI here')
                if len(e2_old) != len(e2):
                    extra = next(g for g in e2_old.file_id.tolist() if g not in e2.index)
                    raise DataFormatError(old, e2_old.line[e2_old.index[extra]],
                                          f'entity id {extra} is not in ent_ids_2')
                tgt_uri = [e2_old.uri[e2_old.index[g]] for g in e2.file_id.tolist()]
            for i, (nm, u) in enumerate(zip(n1, e1.uri)):
                if not nm:
                    raise DataFormatError(e1.path, e1.line[i], f'cannot derive a name from {u!r}')

        attr_files = [path(f'training_attrs_{k}') for k in (1, 2)]
        a1 = a2 = None
        if all(osp.isfile(p) for p in attr_files):
            a1 = read_attrs(attr_files[0], e1)
            a2 = read_attrs(attr_files[1], e2)
            attributes = 'training_attrs_1/2'
        else:
            present = [osp.basename(p) for p in attr_files if osp.isfile(p)]
            attributes = ('none: only ' + ', '.join(present) if present else 'none') + \
                ' (x_attr needs both training_attrs_1 and training_attrs_2)'

        images = None
        if self.image_features is not None:
            images = load_image_features(self.image_features if len(self.image_features) == 2
                                         else self.image_features[0], e1.file_id, e2.file_id)
        meta = dict(
            dataset=f'SRPRS/{self.pair}', name_encoder=self.name_encoder, names=names_src,
            names_from_uri=fallbacks, image_features=self._image_key,
            split='the dataset\'s own: train = sup_ent_ids, test = ref_ent_ids minus sup_ent_ids',
            attributes=attributes)
        src = KGSide(e1.file_id, src_uri, n1, t1, relations=list(r1), relation_uri=r1, attrs=a1)
        tgt = KGSide(e2.file_id, tgt_uri, n2, t2, relations=list(r2), relation_uri=r2, attrs=a2)
        return build_pair(src, tgt, ref, train, ~train, name_encoder=self.name_encoder,
                          images=images, meta=meta)
