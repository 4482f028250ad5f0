r"""A user's own KG pair: any folder in the OpenEA or the id layout (:mod:`psqe_pyg.readers.layouts`)."""
from __future__ import annotations

import os
import os.path as osp
from pathlib import Path
from typing import Callable, Sequence

from torch_geometric.data import HeteroData

from psqe_pyg.pair.from_raw import pair_from_raw
from psqe_pyg.readers.layouts import FOLDS_DIR, LAYOUTS, detect_layout, read_layout

from .base import KGPairDataset, _short_hash

__all__ = ['KGPairFolder']


class KGPairFolder(KGPairDataset):
    r"""A KG pair read from one folder, its layout detected from the files it holds: the OpenEA
    layout (``rel_triples_1/2``, optional ``attr_triples_1/2``, ``ent_links``,
    ``721_5fold/<k>/``) or the id layout of JAPE / GCN-Align / RSN / BERT-INT (``ent_ids_1/2``,
    ``triples_1/2``, optional ``rel_ids_1/2`` and ``ill_ent_ids`` / ``ref_ent_ids`` (+
    ``sup_ent_ids``) / ``ref_pairs`` (+ ``sup_pairs``)); optional ``ent_names_1/2`` in both. See
    :mod:`psqe_pyg.readers.layouts` for the formats, the attribute features and the split.

    Gold links are optional (without them there is nothing to evaluate, and the pair has no
    ``('src', 'same_as', 'tgt')`` edges). The processed file is cached in
    ``$PSQE_PYG_CACHE/folder/<folder name>-<path hash>/`` (else ``<folder>/processed/``) under a
    name that encodes the options and the raw files' fingerprint, like :class:`DBP15K`.

    Args:
        root: the folder.
        fold: OpenEA only: the ``721_5fold/<fold>/`` split (default: the lowest fold present).
        split_seed, train_ratio: the random split used when the folder gives none.
        processed_dir, name_encoder, image_features, transform, pre_transform, force_reload, log:
            as in :class:`~psqe_pyg.datasets.DBP15K` (an image pickle is keyed by the entities'
            file ids: the ids of ``ent_ids_1/2``, or in the OpenEA layout the entities' order of
            first appearance, KG1 from 0 and KG2 after it).
    """

    dataset_name = 'folder'

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fold: int | None = None,
        split_seed: int = 0,
        train_ratio: float = 0.3,
        processed_dir: str | os.PathLike | None = None,
        name_encoder: str = 'auto',
        image_features: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
    ):
        if not 0.0 <= train_ratio <= 1.0:
            raise ValueError(f'KGPairFolder: train_ratio must be in [0, 1], got {train_ratio!r}')
        folder = Path(root).resolve()
        self.layout = detect_layout(folder)
        if fold is not None and self.layout != 'openea':
            raise ValueError(f'{folder}: fold= applies to the OpenEA layout only ({FOLDS_DIR}/<k>/)')
        self.fold = fold
        self.split_seed = int(split_seed)
        self.train_ratio = float(train_ratio)
        pair = f'{folder.name}-{_short_hash(str(folder))[:8]}'
        super().__init__(folder, pair, processed_dir=processed_dir, name_encoder=name_encoder,
                         image_features=image_features, transform=transform,
                         pre_transform=pre_transform, force_reload=force_reload, log=log)

    @property
    def raw_dir(self) -> str:
        return self.root

    def raw_files(self) -> dict[str, str]:
        return {f: f'a required file of the {self.layout} layout' for f in LAYOUTS[self.layout][0]}

    def optional_raw_files(self) -> list[str]:
        names = [f for f in LAYOUTS[self.layout][1] if '<k>' not in f]
        folds = osp.join(self.raw_dir, FOLDS_DIR)
        if self.layout == 'openea' and osp.isdir(folds):
            for k in sorted(os.listdir(folds)):
                names += [osp.join(FOLDS_DIR, k, f'{part}_links')
                          for part in ('train', 'valid', 'test')]
        return names

    def cache_key(self) -> str:
        return (f'{super().cache_key()}_{self.layout}_fold-{self.fold}'
                f'_split-s{self.split_seed}-r{self.train_ratio:g}')

    def build(self) -> HeteroData:
        raw = read_layout(self.raw_dir, self.layout, self.fold)
        return pair_from_raw(raw, dataset=self.raw_dir, name_encoder=self.name_encoder,
                             split_seed=self.split_seed, train_ratio=self.train_ratio,
                             image_features=self.image_features, image_key=self._image_key)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.raw_dir!r}, layout={self.layout!r})'
