r"""The generated KG pair as a PyG :class:`InMemoryDataset`."""
from __future__ import annotations

import os
import os.path as osp
import sys
from typing import Any, Callable

from torch_geometric.data import HeteroData, InMemoryDataset

from psqe_pyg.pair.synthetic import SYNTHETIC_DEFAULTS, generate_synthetic_pair

from .base import (CACHE_ENV, PROCESSED_VERSION, _short_hash, expand_from_disk, save_atomic,
                   transform_key)

__all__ = ['SyntheticKGPair']


class SyntheticKGPair(InMemoryDataset):
    r"""A generated KG pair with known truth (:func:`psqe_pyg.pair.generate_synthetic_pair`): a
    latent graph with power-law degrees (dense hubs, sparse tails) seen through two noisy views with
    permuted entity and relation ids, names with character noise (``'hash'`` encoder by default),
    images = latent vector + noise with a fraction missing, attribute and relation bags, and some
    entities per side without a counterpart. The default data of ``psqe-pyg``; deterministic per
    :obj:`seed`.

    With ``root=None`` (default) nothing touches the disk; with a root the generated pair is cached
    in ``<root>/synthetic/processed/`` (or ``$PSQE_PYG_CACHE/synthetic/``) under a name that hashes
    every option.

    Args:
        root: optional cache folder.
        num_entities, extra_entities, degree_exponent, avg_degree, num_relations, num_clusters,
        name_noise, img_noise, img_missing, attr_noise, edge_drop, train_ratio, name_encoder,
        seed, ...: see :func:`~psqe_pyg.pair.generate_synthetic_pair`.
        transform, pre_transform: as in PyG.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        num_entities: int = 2000,
        extra_entities: int | tuple[int, int] | None = None,
        avg_degree: float = 6.0,
        degree_exponent: float = 2.2,
        num_relations: int = 40,
        num_clusters: int = 8,
        intra_cluster: float = 0.7,
        num_attributes: int = 120,
        img_dim: int = 64,
        name_noise: float = 0.1,
        img_noise: float = 0.5,
        img_missing: float = 0.2,
        attr_noise: float = 0.2,
        edge_drop: float = 0.1,
        train_ratio: float = 0.3,
        name_encoder: str = 'hash',
        seed: int = 0,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
    ):
        self.options: dict[str, Any] = dict(
            num_entities=num_entities, extra_entities=extra_entities, avg_degree=avg_degree,
            degree_exponent=degree_exponent, num_relations=num_relations,
            num_clusters=num_clusters, intra_cluster=intra_cluster,
            num_attributes=num_attributes, img_dim=img_dim, name_noise=name_noise,
            img_noise=img_noise, img_missing=img_missing, attr_noise=attr_noise,
            edge_drop=edge_drop, train_ratio=train_ratio, name_encoder=name_encoder, seed=seed)
        assert set(self.options) == set(SYNTHETIC_DEFAULTS), 'options out of sync'
        if name_encoder != 'hash':
            from psqe_pyg.features import resolve_name_encoder
            self.options['name_encoder'] = resolve_name_encoder(name_encoder)
        self._in_memory = root is None
        super().__init__(None if root is None else str(root), transform, pre_transform,
                         force_reload=force_reload, log=log)
        if self._in_memory:
            data = generate_synthetic_pair(**self.options)
            if self.pre_transform is not None:
                data = self.pre_transform(data)
            self.data, self.slices = self.collate([data])
        else:
            self.load(self.processed_paths[0], data_cls=HeteroData)
            self._data = expand_from_disk(self._data)

    @property
    def has_process(self) -> bool:  # type: ignore[override]
        return not self._in_memory

    @property
    def has_download(self) -> bool:  # type: ignore[override]
        return False

    @property
    def raw_file_names(self) -> list[str]:
        return []

    @property
    def processed_dir(self) -> str:
        env = os.environ.get(CACHE_ENV)
        if env:
            return osp.join(env, 'synthetic')
        return osp.join(self.root, 'synthetic', 'processed')

    @property
    def processed_file_names(self) -> list[str]:
        key = _short_hash(repr(sorted(self.options.items())))
        if self.pre_transform is not None:
            key += f'_pre-{transform_key(self.pre_transform)}'
        return [f'synthetic_v{PROCESSED_VERSION}_n{self.options["num_entities"]}_'
                f's{self.options["seed"]}_{key}.pt']

    def download(self):
        pass

    def _process(self):
        if not self.force_reload and all(osp.isfile(p) for p in self.processed_paths):
            return
        if self.log and 'PYTEST_CURRENT_TEST' not in os.environ:
            print(f'Generating {self!r} -> {self.processed_paths[0]}', file=sys.stderr)
        os.makedirs(self.processed_dir, exist_ok=True)
        self.process()

    def process(self):
        data = generate_synthetic_pair(**self.options)
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        save_atomic(self, data, self.processed_paths[0])

    def __repr__(self) -> str:
        diff = {k: v for k, v in self.options.items() if SYNTHETIC_DEFAULTS.get(k) != v}
        args = ', '.join(f'{k}={v!r}' for k, v in diff.items())
        return f'SyntheticKGPair({args})'
