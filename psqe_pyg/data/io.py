r"""Readers for the public entity-alignment file formats (JAPE / GCN-Align / RSN / MCLEA layout).

Every reader is strict: a malformed input raises :class:`DataFormatError` (a :class:`ValueError`)
naming the file, the 1-based line and what was expected, and a missing file raises
:class:`FileNotFoundError` naming the path and what the file is for. Nothing is silently dropped.
The only lines skipped are blank ones (they carry no data); a trailing newline, a missing final
newline and ``\r\n`` line ends are all accepted.

Formats (all UTF-8, tab separated):

* entity ids ``ent_ids_1/2``: ``id<TAB>uri`` (ids are global: KG1 and KG2 ids are disjoint);
* relation triples ``triples_1/2``: ``head<TAB>relation<TAB>tail`` (global entity ids);
* links ``ill_ent_ids`` / ``ref_ent_ids`` / ``sup_ent_ids``: ``id1<TAB>id2`` (KG1 id, KG2 id);
* relation ids ``rel_ids_1/2`` (RSN/SRPRS): ``id<TAB>relation uri``;
* attribute names ``training_attrs_1/2`` (SRPRS): ``uri<TAB>attr<TAB>attr...``;
* translated names ``translated_ent_name/*.json``: ``[[global_id, [token, ...]], ...]``.

The image-feature pickles live in :mod:`psqe_pyg.data.images`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from urllib.parse import unquote

import numpy as np
import torch
from torch import Tensor

__all__ = [
    'DataFormatError',
    'EntityTable',
    'check_file',
    'read_entity_ids',
    'read_triples',
    'read_links',
    'read_rel_ids',
    'read_attrs',
    'read_translated_names',
    'uri_local_name',
]

PathLike = str | os.PathLike


class DataFormatError(ValueError):
    r"""A malformed input file. ``path`` and ``line`` (1-based, or ``None``) name where."""

    def __init__(self, path: PathLike, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        where = f'{self.path}, line {line}' if line is not None else self.path
        super().__init__(f'{where}: {message}')


def check_file(path: PathLike, purpose: str) -> Path:
    r"""Returns ``path`` as a :class:`Path`, or raises :class:`FileNotFoundError` naming what the
    file is for."""
    path = Path(path)
    if not path.is_file():
        what = 'is a directory, not a file' if path.is_dir() else 'not found'
        raise FileNotFoundError(f'{path}: {what} (expected the {purpose})')
    return path


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    r"""Yields ``(1-based line number, line without its line end)``, skipping blank lines."""
    try:
        with open(path, encoding='utf-8', newline='') as f:
            for i, line in enumerate(f, start=1):
                line = line.rstrip('\n').rstrip('\r')
                if line.strip() == '':
                    continue
                yield i, line
    except UnicodeDecodeError as e:
        raise DataFormatError(path, None, f'not valid UTF-8 text ({e})') from None


def _fast_int_table(path: Path, ncols: int) -> np.ndarray | None:
    r"""Fast path for a clean all-integer table: ``[rows, ncols]`` int64, or ``None`` when anything
    looks unusual (the caller then parses line by line and reports the exact problem)."""
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError:
        return None
    if b' ' in raw or b'\r' in raw or b'\n\n' in raw or raw.startswith(b'\n'):
        return None
    nlines = raw.count(b'\n') + (0 if raw.endswith(b'\n') or not raw else 1)
    if raw.count(b'\t') != (ncols - 1) * nlines:
        return None
    tokens = raw.split()
    if len(tokens) != ncols * nlines:
        return None
    try:
        arr = np.array(tokens, dtype=np.int64) if tokens else np.zeros(0, dtype=np.int64)
    except (ValueError, OverflowError):
        return None
    if arr.size and arr.min() < 0:
        return None
    # every line must hold exactly ncols tab-separated fields
    lines = raw.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    if any(line.count(b'\t') != ncols - 1 for line in lines):
        return None
    return arr.reshape(-1, ncols)


def _int(path: Path, lineno: int, text: str, column: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DataFormatError(path, lineno,
                              f'expected an integer {column}, got {text!r}') from None
    if value < 0:
        raise DataFormatError(path, lineno, f'expected a non-negative {column}, got {value}')
    return value


def _split(path: Path, lineno: int, line: str, ncols: int, layout: str) -> list[str]:
    cols = line.split('\t')
    if len(cols) != ncols:
        raise DataFormatError(
            path, lineno, f'expected {ncols} tab-separated columns ({layout}), '
            f'got {len(cols)}: {line[:120]!r}')
    return cols


def _all_in(values: np.ndarray, keys) -> bool:
    if values.size == 0:
        return True
    k = np.fromiter(keys, dtype=np.int64)
    if k.size == 0:
        return False
    return bool(np.isin(values, k).all())


class EntityTable:
    r"""The entities of one KG as read from an ``id<TAB>uri`` file.

    Attributes:
        path (Path): the file.
        file_id (LongTensor): ``[N]`` global ids in file order; local id ``i`` is row ``i``.
        uri (list[str]): the second column, in file order.
        index (dict[int, int]): global id -> local id.
        line (list[int]): the 1-based line of each entity in the file.
    """

    def __init__(self, path: Path, file_id: list[int], uri: list[str],
                 line: list[int] | None = None):
        self.path = path
        self.file_id = torch.tensor(file_id, dtype=torch.long)
        self.uri = uri
        self.index = {g: i for i, g in enumerate(file_id)}
        self.line = line if line is not None else list(range(1, len(uri) + 1))

    def __len__(self) -> int:
        return len(self.uri)

    def __repr__(self) -> str:
        return f'EntityTable({self.path}, {len(self)} entities)'


def read_entity_ids(path: PathLike, purpose: str = 'entity ids (id<TAB>uri)') -> EntityTable:
    r"""Reads an ``id<TAB>uri`` entity file (``ent_ids_1`` / ``ent_ids_2``).

    Raises on a wrong column count, a non-integer or negative id, a duplicate id (naming both
    lines) and an empty file."""
    path = check_file(path, purpose)
    ids: list[int] = []
    uris: list[str] = []
    lines: list[int] = []
    seen: dict[int, int] = {}
    for lineno, line in _lines(path):
        a, uri = _split(path, lineno, line, 2, 'id<TAB>uri')
        g = _int(path, lineno, a, 'entity id')
        if g in seen:
            raise DataFormatError(path, lineno,
                                  f'duplicate entity id {g} (first on line {seen[g]})')
        seen[g] = lineno
        ids.append(g)
        uris.append(uri)
        lines.append(lineno)
    if not ids:
        raise DataFormatError(path, None, f'no entities: the file is empty (expected {purpose})')
    return EntityTable(path, ids, uris, lines)


def read_triples(
    path: PathLike,
    entities: EntityTable | Mapping[int, int] | None = None,
    relations: Mapping[int, object] | None = None,
    purpose: str = 'relation triples (head<TAB>relation<TAB>tail)',
) -> Tensor:
    r"""Reads ``head<TAB>relation<TAB>tail`` triples of global ids.

    Args:
        entities: when given, every head and tail must be one of its global ids.
        relations: when given (the ``rel_ids`` file), every relation id must be one of its keys.

    Returns:
        LongTensor ``[E, 3]`` of global ids in file order (``E`` may be 0 for an empty file).
    """
    path = check_file(path, purpose)
    index = entities.index if isinstance(entities, EntityTable) else entities
    ent_src = f' ({entities.path})' if isinstance(entities, EntityTable) else ''
    fast = _fast_int_table(path, 3)
    if fast is not None and (index is None or _all_in(fast[:, [0, 2]], index)) and (
            relations is None or _all_in(fast[:, 1], relations)):
        return torch.from_numpy(fast.copy())
    rows: list[tuple[int, int, int]] = []
    for lineno, line in _lines(path):
        h, r, t = _split(path, lineno, line, 3, 'head<TAB>relation<TAB>tail')
        h = _int(path, lineno, h, 'head entity id')
        r = _int(path, lineno, r, 'relation id')
        t = _int(path, lineno, t, 'tail entity id')
        if index is not None:
            for role, g in (('head', h), ('tail', t)):
                if g not in index:
                    raise DataFormatError(
                        path, lineno, f'{role} entity id {g} is not in this KG\'s entity '
                        f'ids{ent_src}')
        if relations is not None and r not in relations:
            raise DataFormatError(path, lineno,
                                  f'relation id {r} is not in this KG\'s relation ids')
        rows.append((h, r, t))
    if not rows:
        return torch.empty(0, 3, dtype=torch.long)
    return torch.tensor(rows, dtype=torch.long)


def read_links(
    path: PathLike,
    src: EntityTable | Mapping[int, int] | None = None,
    tgt: EntityTable | Mapping[int, int] | None = None,
    purpose: str = 'entity links (id1<TAB>id2)',
    one_to_one: bool = True,
    with_lines: bool = False,
) -> Tensor | tuple[Tensor, list[int]]:
    r"""Reads ``id1<TAB>id2`` links (KG1 global id, KG2 global id).

    Raises on a link to an entity unknown to its KG, on a duplicate link and, when
    :obj:`one_to_one`, on an entity that appears in two links (gold links are one-to-one).

    Returns:
        LongTensor ``[L, 2]`` of global ids in file order (and, with :obj:`with_lines`, the
        1-based line of each link).
    """
    path = check_file(path, purpose)
    src_index = src.index if isinstance(src, EntityTable) else src
    tgt_index = tgt.index if isinstance(tgt, EntityTable) else tgt
    rows: list[tuple[int, int]] = []
    seen1: dict[int, tuple[int, int]] = {}  # KG1 id -> (KG2 id, line)
    seen2: dict[int, tuple[int, int]] = {}  # KG2 id -> (KG1 id, line)
    pairs: dict[tuple[int, int], int] = {}
    lines: list[int] = []
    for lineno, line in _lines(path):
        a, b = _split(path, lineno, line, 2, 'id1<TAB>id2')
        a = _int(path, lineno, a, 'KG1 entity id')
        b = _int(path, lineno, b, 'KG2 entity id')
        if src_index is not None and a not in src_index:
            raise DataFormatError(path, lineno,
                                  f'link to unknown entity: {a} is not a KG1 entity id')
        if tgt_index is not None and b not in tgt_index:
            raise DataFormatError(path, lineno,
                                  f'link to unknown entity: {b} is not a KG2 entity id')
        if (a, b) in pairs:
            raise DataFormatError(path, lineno,
                                  f'duplicate link {a} -> {b} (first on line {pairs[a, b]})')
        pairs[a, b] = lineno
        if one_to_one:
            if a in seen1:
                raise DataFormatError(
                    path, lineno, f'KG1 entity {a} is linked twice (also to {seen1[a][0]} on '
                    f'line {seen1[a][1]}); links must be one-to-one')
            if b in seen2:
                raise DataFormatError(
                    path, lineno, f'KG2 entity {b} is linked twice (also to {seen2[b][0]} on '
                    f'line {seen2[b][1]}); links must be one-to-one')
        seen1.setdefault(a, (b, lineno))
        seen2.setdefault(b, (a, lineno))
        rows.append((a, b))
        lines.append(lineno)
    out = torch.tensor(rows, dtype=torch.long) if rows else torch.empty(0, 2, dtype=torch.long)
    return (out, lines) if with_lines else out


def read_rel_ids(path: PathLike,
                 purpose: str = 'relation ids (id<TAB>relation uri)') -> dict[int, str]:
    r"""Reads an RSN ``rel_ids`` file: ``id<TAB>relation uri`` -> ``{id: uri}`` (file order)."""
    path = check_file(path, purpose)
    out: dict[int, str] = {}
    first: dict[int, int] = {}
    for lineno, line in _lines(path):
        a, uri = _split(path, lineno, line, 2, 'id<TAB>relation uri')
        r = _int(path, lineno, a, 'relation id')
        if r in out:
            raise DataFormatError(path, lineno,
                                  f'duplicate relation id {r} (first on line {first[r]})')
        first[r] = lineno
        out[r] = uri
    return out


def read_attrs(
    path: PathLike,
    entities: EntityTable,
    purpose: str = 'attribute names (uri<TAB>attr<TAB>attr...)',
) -> list[list[str]]:
    r"""Reads an SRPRS ``training_attrs`` file: ``uri<TAB>attr<TAB>attr...`` (attribute NAMES,
    no values).

    Returns:
        ``attrs[i]`` = the attribute names of local entity ``i`` (``[]`` when the entity has no
        line). Raises on a URI that is not in :obj:`entities`, on a URI listed twice and on an
        empty attribute field.
    """
    path = check_file(path, purpose)
    uri_index = {u: i for i, u in enumerate(entities.uri)}
    out: list[list[str]] = [[] for _ in range(len(entities))]
    first: dict[str, int] = {}
    for lineno, line in _lines(path):
        cols = line.split('\t')
        uri = cols[0]
        if uri not in uri_index:
            raise DataFormatError(
                path, lineno, f'entity {uri[:120]!r} is not in this KG\'s entity ids '
                f'({entities.path})')
        if uri in first:
            raise DataFormatError(path, lineno,
                                  f'entity {uri[:120]!r} listed twice (first on line {first[uri]})')
        first[uri] = lineno
        names = cols[1:]
        for k, name in enumerate(names, start=2):
            if name.strip() == '':
                raise DataFormatError(path, lineno,
                                      f'empty attribute name in column {k} (expected '
                                      'uri<TAB>attr<TAB>attr...)')
        out[uri_index[uri]] = names
    return out


def read_translated_names(
    path: PathLike,
    purpose: str = 'translated entity names (JSON [[global_id, [token, ...]], ...])',
) -> dict[int, list[str]]:
    r"""Reads a ``translated_ent_name`` JSON file: ``[[global_id, [token, ...]], ...]``.

    The file is a single JSON document, so structural errors name the 0-based entry index (and
    JSON syntax errors the line and column the decoder reports).

    Returns:
        ``{global_id: [token, ...]}``.
    """
    path = check_file(path, purpose)
    try:
        with open(path, encoding='utf-8') as f:
            doc = json.load(f)
    except json.JSONDecodeError as e:
        raise DataFormatError(path, e.lineno,
                              f'invalid JSON at column {e.colno}: {e.msg}') from None
    except UnicodeDecodeError as e:
        raise DataFormatError(path, None, f'not valid UTF-8 text ({e})') from None
    if not isinstance(doc, list):
        raise DataFormatError(path, None,
                              f'expected a JSON list of [id, [tokens]], got {type(doc).__name__}')
    out: dict[int, list[str]] = {}
    for k, item in enumerate(doc):
        where = f'entry {k} {json.dumps(item, ensure_ascii=False)[:80]}'
        if not (isinstance(item, list) and len(item) == 2):
            raise DataFormatError(path, None, f'{where}: expected [global_id, [token, ...]]')
        g, tokens = item
        if isinstance(g, bool) or not isinstance(g, int) or g < 0:
            raise DataFormatError(path, None, f'{where}: expected a non-negative integer id')
        if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)):
            raise DataFormatError(path, None, f'{where}: expected a list of string tokens')
        if g in out:
            raise DataFormatError(path, None, f'{where}: duplicate entity id {g}')
        out[g] = tokens
    return out


def uri_local_name(uri: str) -> str:
    r"""The human-readable local name of an entity URI or label.

    ``http://dbpedia.org/resource/AC/DC`` -> ``'AC/DC'`` (everything after ``/resource/``),
    otherwise the part after the last ``/`` or ``#``; percent-escapes decoded, underscores turned
    into spaces: ``Jannie_du_Plessis`` -> ``'Jannie du Plessis'``.
    """
    s = uri
    marker = '/resource/'
    if marker in s:
        s = s.split(marker, 1)[1]
    elif '://' in s:
        s = s.rstrip('/')
        s = s[max(s.rfind('/'), s.rfind('#')) + 1:]
    s = unquote(s)
    return ' '.join(s.replace('_', ' ').split())


def names_from_tokens(tokens: Sequence[str]) -> str:
    return ' '.join(tokens)
