r"""Image features in the EVA / MCLEA pickle format.

EVA and MCLEA publish one pickle per dataset, e.g. ``zh_en_GA_id_img_feature_dict.pkl``, holding a
dict ``{global_entity_id: vector}`` (vectors: numpy arrays, 2048-d ResNet-152 features for DBP15K;
plain lists are accepted too). Entities without a picture simply have no key. One file covers both
KGs (ids are global); a pair of files, one per KG, is accepted as well.

Pickles can run code when loaded, so they are read with a restricted unpickler that only rebuilds
builtin containers and numpy arrays / scalars. Pass ``trusted=True`` to lift the restriction for a
file you produced yourself with other types (e.g. torch tensors).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from psqe_pyg.readers.io import DataFormatError, check_file

__all__ = ['read_image_dict', 'image_matrix', 'load_image_features', 'file_digest']

PathLike = str | os.PathLike

_PURPOSE = 'image features (pickle of {global_entity_id: vector})'

_SAFE_NUMPY = {
    '_reconstruct', 'ndarray', 'dtype', 'scalar', '_frombuffer', 'frombuffer',
}
_SAFE_BUILTINS = {'list', 'tuple', 'dict', 'set', 'frozenset', 'int', 'float', 'complex',
                  'bytes', 'bytearray', 'str', 'bool'}


class _Refused(pickle.UnpicklingError):
    pass


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module.split('.')[0] == 'numpy' and name in _SAFE_NUMPY) or (
                module == 'numpy' and name in ('float32', 'float64', 'float16', 'int64')):
            return super().find_class(module, name)
        if module in ('builtins', '__builtin__', 'copy_reg', 'copyreg', '_codecs') and (
                name in _SAFE_BUILTINS or name in ('_reconstructor', 'encode')):
            return super().find_class(module, name)
        raise _Refused(
            f'refusing to load {module}.{name}: only dicts of numpy arrays / lists are read '
            'from image pickles (pass trusted=True for a file you trust)')


def file_digest(path: PathLike, length: int = 12) -> str:
    r"""A short SHA-1 content hash of a file (used in processed-cache keys)."""
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()[:length]


def _to_vector(value) -> np.ndarray | None:
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    return arr if arr.ndim == 1 else None


def read_image_dict(path: PathLike, dim: int | None = None, *,
                    trusted: bool = False) -> dict[int, np.ndarray]:
    r"""Reads and validates an EVA-style image pickle ``{global_id: vector}``.

    Every key must be a non-negative integer, every value a 1-D numeric vector of the same length
    (:obj:`dim`, or the first vector's length), with no NaN or infinity. Errors name the file and
    the offending entity id.

    Returns:
        ``{global_id: float32 vector}`` in the file's order.
    """
    path = check_file(path, _PURPOSE)
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        if trusted:
            obj = pickle.loads(raw, encoding='latin1')
        else:
            obj = _RestrictedUnpickler(io.BytesIO(raw), encoding='latin1').load()
    except _Refused as e:
        raise DataFormatError(path, None, f'cannot unpickle: {e}') from None
    except Exception as e:  # truncated / not a pickle at all
        raise DataFormatError(path, None,
                              f'not a readable pickle ({type(e).__name__}: {e})') from None
    if not isinstance(obj, Mapping):
        raise DataFormatError(
            path, None, f'expected a dict {{global_entity_id: vector}}, got {type(obj).__name__}')
    out: dict[int, np.ndarray] = {}
    for key, value in obj.items():
        if isinstance(key, (np.integer, )):
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise DataFormatError(path, None,
                                  f'key {key!r}: expected a non-negative integer entity id')
        vec = _to_vector(value)
        if vec is None:
            shape = getattr(value, 'shape', None)
            raise DataFormatError(
                path, None, f'entity id {key}: expected a 1-D numeric vector, got '
                f'{type(value).__name__}' + (f' of shape {tuple(shape)}' if shape else ''))
        if dim is None:
            dim = vec.shape[0]
            if dim == 0:
                raise DataFormatError(path, None, f'entity id {key}: empty vector')
        if vec.shape[0] != dim:
            raise DataFormatError(
                path, None, f'entity id {key}: wrong vector length {vec.shape[0]} '
                f'(expected {dim}, the length of the other vectors)')
        if not np.isfinite(vec).all():
            bad = 'NaN' if np.isnan(vec).any() else 'infinite value'
            raise DataFormatError(path, None, f'entity id {key}: vector contains {bad}')
        out[key] = vec.astype(np.float32)
    if not out:
        raise DataFormatError(path, None, 'no image vectors (empty dict)')
    return out


def image_matrix(vectors: Mapping[int, np.ndarray], file_id: Tensor | Sequence[int],
                 dim: int | None = None) -> tuple[Tensor, Tensor]:
    r"""Rows of :obj:`vectors` in the order of :obj:`file_id`.

    Returns:
        ``(x [N, d] float32, mask [N] bool)``: entities without a vector get a zero row and
        ``mask = False``.
    """
    ids = file_id.tolist() if isinstance(file_id, Tensor) else list(file_id)
    if dim is None:
        dim = len(next(iter(vectors.values())))
    x = np.zeros((len(ids), dim), dtype=np.float32)
    mask = np.zeros(len(ids), dtype=bool)
    for i, g in enumerate(ids):
        v = vectors.get(g)
        if v is not None:
            x[i] = v
            mask[i] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


def load_image_features(
    paths: PathLike | Sequence[PathLike],
    src_file_id: Tensor,
    tgt_file_id: Tensor,
    *,
    trusted: bool = False,
    allow_unknown: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""Image features for both sides of a pair.

    Args:
        paths: one pickle covering both KGs (global ids), or a ``(src_path, tgt_path)`` pair.
        src_file_id, tgt_file_id: the global ids of each side, in local order.
        allow_unknown: by default a key that is an entity of neither KG is an error (it points to
            a file from another dataset); set True to ignore such keys.

    Returns:
        ``(x_src, mask_src, x_tgt, mask_tgt)``.
    """
    if isinstance(paths, (str, os.PathLike)):
        files = [Path(paths)]
    else:
        files = [Path(p) for p in paths]
        if len(files) != 2:
            raise ValueError('image_features must be one path or a (src_path, tgt_path) pair, '
                             f'got {len(files)} paths')
    dicts = []
    dim = None
    for p in files:
        d = read_image_dict(p, dim, trusted=trusted)
        dim = len(next(iter(d.values())))
        dicts.append(d)
    src_ids = set(src_file_id.tolist())
    tgt_ids = set(tgt_file_id.tolist())
    if not allow_unknown:
        allowed = [src_ids | tgt_ids] if len(files) == 1 else [src_ids, tgt_ids]
        for p, d, ok in zip(files, dicts, allowed):
            for g in d:
                if g not in ok:
                    side = 'either KG' if len(files) == 1 else (
                        'KG1' if ok is src_ids else 'KG2')
                    raise DataFormatError(
                        p, None, f'entity id {g} is not an entity of {side} (is this the image '
                        'file of another dataset? pass allow_unknown=True to ignore such ids)')
    d_src, d_tgt = (dicts[0], dicts[0]) if len(files) == 1 else dicts
    x_src, m_src = image_matrix(d_src, src_file_id, dim)
    x_tgt, m_tgt = image_matrix(d_tgt, tgt_file_id, dim)
    if not bool(m_src.any()) and not bool(m_tgt.any()):
        raise DataFormatError(files[0], None, 'no image vector matches an entity of the pair')
    return x_src, m_src, x_tgt, m_tgt
