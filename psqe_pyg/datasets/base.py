r"""Shared machinery of the KG-pair datasets: processed-cache location, cache keys, atomic saves."""
from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import logging
import os
import os.path as osp
import re
import warnings
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData, InMemoryDataset
from torch_geometric.transforms import BaseTransform, Compose

from psqe_pyg._cache import CACHE_ENV
from psqe_pyg._init_args import init_args
from psqe_pyg.readers.images import file_digest
from psqe_pyg.readers.io import check_file

__all__ = ['KGPairDataset', 'CACHE_ENV', 'PROCESSED_VERSION', 'transform_description', 'transform_key']

log = logging.getLogger(__name__)

# Bumped whenever the processed layout or the feature builders change, so old caches are ignored.
PROCESSED_VERSION = 1
# Bumped whenever a transform's output changes for the same arguments (2: seeded tie-breaking; 3: seed
# generators record their per-stage history on the pair), so files
# processed with an older ``pre_transform`` are ignored while the features' caches stay valid.
PRE_TRANSFORM_VERSION = 3


def _writable(path: str) -> bool:
    p = Path(path).absolute()
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    return os.access(p, os.W_OK)


@functools.lru_cache(maxsize=256)
def _cached_digest(path: str, size: int, mtime_ns: int, ctime_ns: int) -> str:
    """:func:`~psqe_pyg.readers.images.file_digest`, read once per version of the file: the size and times key
    the cache, and any write changes ``ctime``, which cannot be set back."""
    return file_digest(path)


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]


def transform_description(obj) -> str:
    r"""A stable text that names a transform and EVERY argument it was built with.

    In order of preference: the constructor arguments a transform records in ``init_args`` (as
    :class:`~psqe_pyg.transforms.PSQETransform` does); the transforms of a PyG
    :class:`~torch_geometric.transforms.Compose` (recursively); the attributes named like the
    constructor's parameters when every parameter is stored under its own name (most PyG
    transforms); else the ``repr`` with memory addresses stripped. Argument values that are
    transforms are described recursively.
    """
    if inspect.isroutine(obj):  # a plain function: its code is its only argument
        return f'{obj.__module__}.{obj.__qualname__}'
    cls = type(obj)
    name = f'{cls.__module__}.{cls.__qualname__}'
    if isinstance(obj, Compose):
        return f'{name}[{", ".join(transform_description(t) for t in obj.transforms)}]'
    args = init_args(obj)
    if args is None:
        return re.sub(r'(<.*?)\s.*(>)', r'\1\2', repr(obj))
    return f'{name}({", ".join(f"{k}={_describe_value(v)}" for k, v in sorted(args.items()))})'


def _describe_value(value) -> str:
    if isinstance(value, (list, tuple)):
        inner = ', '.join(_describe_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    if isinstance(value, dict):
        return '{' + ', '.join(f'{k!r}: {_describe_value(v)}' for k, v in sorted(
            value.items(), key=lambda kv: repr(kv[0]))) + '}'
    if isinstance(value, BaseTransform) or inspect.isroutine(value):
        return transform_description(value)
    return re.sub(r'(<.*?)\s.*(>)', r'\1\2', repr(value))


def transform_key(obj) -> str:
    r"""A short hash of :func:`transform_description`: the ``pre_transform`` part of a processed
    file's name, different for any two transforms built with different arguments (or under another
    :data:`PRE_TRANSFORM_VERSION`)."""
    return _short_hash(f'v{PRE_TRANSFORM_VERSION} {transform_description(obj)}')


_SEP = '\x1f'  # ASCII unit separator: joins string lists in the processed file


def compact_for_disk(data: HeteroData) -> HeteroData:
    r"""A shallow copy of :obj:`data` that is small and fast to (un)pickle: sparse-ish float
    matrices (density < 20%, e.g. relation / attribute bags, hashed names) become sparse COO tensors
    and lists of strings become one joined string. :func:`expand_from_disk` undoes it exactly."""
    out = copy.copy(data)
    for store in out.node_stores:
        packed = []
        for key in list(store.keys()):
            value = store[key]
            if isinstance(value, Tensor) and value.layout == torch.strided and \
                    value.is_floating_point() and value.dim() == 2 and value.numel() > 0:
                if int(torch.count_nonzero(value)) < 0.2 * value.numel():
                    store[key] = value.to_sparse()
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value) \
                    and not any(_SEP in v for v in value):
                store[key] = _SEP.join(value)
                packed.append(key)
        if packed:
            store['psqe_packed_lists'] = packed
    return out


#: Node features that stay sparse COO in memory (relation / attribute bags, ``[N, vocabulary]``): they are never
#: expanded to dense on load (~4 GB per bag and side at a million entities).
SPARSE_FEATURES = ('x_attr', 'x_rel')


def expand_from_disk(data: HeteroData) -> HeteroData:
    r"""Undoes :func:`compact_for_disk` in place, except that the bags (:data:`SPARSE_FEATURES`) stay sparse: the
    values are the same, the consumers read sparse bags (:mod:`psqe_pyg.ops.rows`)."""
    for store in data.node_stores:
        for key in list(store.keys()):
            value = store[key]
            if isinstance(value, Tensor) and value.layout == torch.sparse_coo:
                store[key] = value.coalesce() if key in SPARSE_FEATURES else value.to_dense()
        packed = store.get('psqe_packed_lists')
        if packed is not None:
            del store['psqe_packed_lists']
            for key in packed:
                store[key] = store[key].split(_SEP) if store[key] else ['']
    return data


def process_if_missing(dataset: InMemoryDataset, what: str) -> None:
    r"""Runs :obj:`dataset`'s ``process()`` unless its processed file exists (or ``force_reload``).

    The datasets drive this themselves (``has_process`` is False): PyG's own step would also keep one
    ``pre_transform.pt`` per folder and warn when it differs, while here the ``pre_transform`` is part of
    each processed file's name, so differently transformed files live side by side."""
    if not dataset.force_reload and all(osp.isfile(p) for p in dataset.processed_paths):
        return
    if dataset.log:
        log.info('Processing %s -> %s', what, dataset.processed_paths[0])
    os.makedirs(dataset.processed_dir, exist_ok=True)
    dataset.process()


def save_atomic(dataset: InMemoryDataset, data: HeteroData, path: str) -> None:
    r"""Saves :obj:`data` (compacted) to :obj:`path` through a temporary file and
    :func:`os.replace`, so a crash never leaves a half-written cache behind."""
    tmp = f'{path}.tmp-{os.getpid()}'
    try:
        dataset.save([compact_for_disk(data)], tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


class KGPairDataset(InMemoryDataset):
    r"""Base class of the one-graph KG-pair datasets (:class:`DBP15K`, :class:`SRPRS`).

    Subclasses set :attr:`dataset_name`, implement :meth:`raw_files` (relative path -> purpose) and
    :meth:`build` (read the raw files and return the pair :class:`HeteroData`).

    The processed file lives in, by priority: :obj:`processed_dir`;
    ``$PSQE_PYG_CACHE/<DATASET>/<pair>/``; ``<root>/<DATASET>/<pair>/processed/`` (or
    ``~/.cache/psqe_pyg/<DATASET>/<pair>/`` when that is not writable). Its name encodes every
    option that changes the result (name encoder, image file content hash, split, and the
    ``pre_transform`` with every argument it was built with, :func:`transform_description`) and
    a fingerprint of the raw files' contents, so a changed option or an edited copy of the data
    never reads a stale cache (and a fresh copy of the same files reads the cache). It is written
    to a temporary file and moved into place with :func:`os.replace`, in a compact form (sparse
    bags, joined string lists) that loading expands back exactly.
    """

    dataset_name: str = ''

    def __init__(
        self,
        root: str | os.PathLike,
        pair: str,
        *,
        processed_dir: str | os.PathLike | None = None,
        name_encoder: str = 'auto',
        image_features: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        transform: Callable | None = None,
        pre_transform: Callable | None = None,
        force_reload: bool = False,
        log: bool = True,
    ):
        from psqe_pyg.features import resolve_name_encoder

        if root is None:
            raise ValueError(f'{type(self).__name__}: root is required (the folder that holds '
                             f'{self.dataset_name}/)')
        self.pair = pair
        self.name_encoder = resolve_name_encoder(name_encoder)
        self._processed_dir_arg = None if processed_dir is None else str(processed_dir)
        self.image_features = self._image_paths(image_features)
        self._image_key = 'none'
        if self.image_features is not None:
            digests = [file_digest(check_file(p, 'image features (pickle of {global_entity_id: '
                                              'vector})')) for p in self.image_features]
            self._image_key = '-'.join(digests)
        super().__init__(str(root), transform, pre_transform, force_reload=force_reload, log=log)
        self.check_raw_files()
        process_if_missing(self, f'{type(self).__name__}({self.pair!r})')
        self.load(self.processed_paths[0], data_cls=HeteroData)
        self._data = expand_from_disk(self._data)

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _image_paths(image_features) -> list[str] | None:
        if image_features is None:
            return None
        if isinstance(image_features, (str, os.PathLike)):
            return [str(image_features)]
        paths = [str(p) for p in image_features]
        if len(paths) not in (1, 2):
            raise ValueError('image_features must be a path or a (src_path, tgt_path) pair, got '
                             f'{len(paths)} paths')
        return paths

    @property
    def folder(self) -> str:
        r"""The raw folder's name inside ``<root>/<DATASET>/``."""
        return self.pair

    @property
    def raw_dir(self) -> str:
        return osp.join(self.root, self.dataset_name, self.folder)

    @property
    def processed_dir(self) -> str:
        if self._processed_dir_arg is not None:
            return self._processed_dir_arg
        env = os.environ.get(CACHE_ENV)
        if env:
            return osp.join(env, self.dataset_name, self.pair)
        default = osp.join(self.raw_dir, 'processed')
        if _writable(default):
            return default
        fallback = osp.join(osp.expanduser('~'), '.cache', 'psqe_pyg', self.dataset_name,
                            self.pair)
        warnings.warn(f'{default} is not writable; caching the processed dataset in {fallback} '
                      f'(set {CACHE_ENV} or processed_dir= to choose)', stacklevel=2)
        return fallback

    def raw_files(self) -> dict[str, str]:
        r"""``{path relative to raw_dir: what the file is for}`` of the required raw files."""
        raise NotImplementedError

    @property
    def raw_file_names(self) -> list[str]:
        return list(self.raw_files())

    def raw_fingerprint(self) -> str:
        r"""A short hash of the raw files' names (relative to :attr:`raw_dir`) and contents, so an edited
        copy of the raw data never reads another copy's cache, while a copy with the same content (a fresh
        checkout, ``cp`` without ``-p``) reads it."""
        optional = (osp.join(self.raw_dir, f) for f in self.optional_raw_files())
        parts = []
        for p in sorted(self.raw_paths) + sorted(p for p in optional if osp.isfile(p)):
            st = os.stat(p)
            digest = _cached_digest(osp.abspath(p), st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            parts.append(f'{osp.relpath(p, self.raw_dir)}|{digest}')
        return _short_hash('\n'.join(parts))[:8]

    def optional_raw_files(self) -> list[str]:
        r"""Raw files read when present (e.g. attribute files)."""
        return []

    def cache_key(self) -> str:
        r"""The options that change the processed result, as a file-name-safe string."""
        # '+' mixes were plain means of cosines before they were z-scored: a new key, so no old cache is read
        names = f'{self.name_encoder}-zscored' if '+' in self.name_encoder else self.name_encoder
        return f'name-{names}_img-{self._image_key}'

    @property
    def processed_file_names(self) -> list[str]:
        key = f'{self.folder}_v{PROCESSED_VERSION}_{self.cache_key()}_raw-{self.raw_fingerprint()}'
        if self.pre_transform is not None:
            key += f'_pre-{transform_key(self.pre_transform)}'
        return [f'{key}.pt']

    @property
    def has_process(self) -> bool:  # type: ignore[override]
        return False  # __init__ runs process_if_missing()

    def check_raw_files(self) -> None:
        r"""Raises a :class:`FileNotFoundError` listing every required raw file that is missing, and
        what each one is for (nothing is downloaded, nothing is created)."""
        missing = [(p, why) for p, why in self.raw_files().items()
                   if not osp.isfile(osp.join(self.raw_dir, p))]
        if not missing:
            return
        lines = '\n'.join(f'  {osp.normpath(osp.join(self.raw_dir, p))}  ({why})'
                          for p, why in missing)
        raise FileNotFoundError(
            f'{type(self).__name__}({self.pair!r}): missing raw files under {self.root}:\n{lines}\n'
            f'Nothing is downloaded: place the public {self.dataset_name} files there (layout: '
            f'<root>/{self.dataset_name}/{self.folder}/...).')

    def build(self) -> HeteroData:
        raise NotImplementedError

    def process(self):
        data = self.build()
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        save_atomic(self, data, self.processed_paths[0])

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.pair!r}, name_encoder={self.name_encoder!r})'
