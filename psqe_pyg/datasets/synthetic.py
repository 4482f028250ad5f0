r"""The generated KG pair as a PyG :class:`InMemoryDataset`."""
from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable

from torch_geometric.data import HeteroData, InMemoryDataset

from psqe_pyg.pair.generator import SYNTHETIC_DEFAULTS, generate_synthetic_pair

from .base import (CACHE_ENV, PROCESSED_VERSION, _short_hash, expand_from_disk, process_if_missing, save_atomic,
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
        transform, pre_transform, force_reload, log: as in PyG.
        **options: any of :data:`~psqe_pyg.pair.SYNTHETIC_DEFAULTS` (``num_entities``, ``seed``,
            ``name_encoder``, ...; see :func:`~psqe_pyg.pair.generate_synthetic_pair`), else a
            :class:`TypeError`.
    """

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        *,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
        **options: Any,
    ):
        unknown = sorted(set(options) - set(SYNTHETIC_DEFAULTS))
        if unknown:
            raise TypeError(f'SyntheticKGPair: unknown option(s) {", ".join(unknown)}; expected some of '
                            f'{", ".join(SYNTHETIC_DEFAULTS)}')
        self.options: dict[str, Any] = {**SYNTHETIC_DEFAULTS, **options}
        name_encoder = self.options['name_encoder']
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
            process_if_missing(self, repr(self))
            self.load(self.processed_paths[0], data_cls=HeteroData)
            self._data = expand_from_disk(self._data)

    @property
    def has_process(self) -> bool:  # type: ignore[override]
        return False  # __init__ generates in memory, or runs process_if_missing()

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

    def process(self):
        data = generate_synthetic_pair(**self.options)
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        save_atomic(self, data, self.processed_paths[0])

    def __repr__(self) -> str:
        diff = {k: v for k, v in self.options.items() if SYNTHETIC_DEFAULTS.get(k) != v}
        args = ', '.join(f'{k}={v!r}' for k, v in diff.items())
        return f'SyntheticKGPair({args})'
