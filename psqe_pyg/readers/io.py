r"""Readers for the public entity-alignment file formats (JAPE / GCN-Align / RSN / MCLEA layout).

Every reader is strict: a malformed input raises :class:`DataFormatError` (a :class:`ValueError`)
naming the file, the 1-based line and what was expected, and a missing file raises
:class:`FileNotFoundError` naming the path and what the file is for. Nothing is silently dropped.
The only lines skipped are blank ones (they carry no data); a trailing newline, a missing final
newline and ``\r\n`` line ends are all accepted.

Formats (all UTF-8, tab separated):

* entity ids ``ent_ids_1/2``: ``id<TAB>uri`` (ids of each KG; DBP15K / SRPRS number both KGs
  in one global space, other releases may number each KG from 0);
* relation triples ``triples_1/2``: ``head<TAB>relation<TAB>tail`` (global entity ids);
* links ``ill_ent_ids`` / ``ref_ent_ids`` / ``sup_ent_ids``: ``id1<TAB>id2`` (KG1 id, KG2 id);
* relation ids ``rel_ids_1/2`` (RSN/SRPRS): ``id<TAB>relation uri``;
* attribute names ``training_attrs_1/2`` (SRPRS): ``uri<TAB>attr<TAB>attr...``;
* translated names ``translated_ent_name/*.json``: ``[[global_id, [token, ...]], ...]``;
* entity names ``ent_names_1/2``: ``entity<TAB>name`` (entity as in the layout's entity column);
* OpenEA ``rel_triples_1/2`` / ``attr_triples_1/2``: ``head<TAB>relation<TAB>tail`` /
  ``entity<TAB>attribute<TAB>value`` with entities as strings, and ``ent_links``:
  ``entity1<TAB>entity2``.

The image-feature pickles live in :mod:`psqe_pyg.readers.images`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator, Mapping
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
    'read_names',
    'read_string_triples',
    'count_blank_lines',
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
    r"""Yields ``(1-based line number, line without its line end)``, skipping blank lines.

    Raises on binary data (a NUL byte) and on bytes that are not UTF-8, naming the line; a UTF-8
    byte-order mark at the start of the file is dropped."""
    with open(path, 'rb') as f:
        for i, raw in enumerate(f, start=1):
            if b'\0' in raw:
                raise DataFormatError(path, i, 'binary data (a NUL byte): expected UTF-8 text')
            try:
                line = raw.decode('utf-8')
            except UnicodeDecodeError as e:
                raise DataFormatError(
                    path, i, f'not valid UTF-8 text (byte {raw[e.start:e.start + 1]!r} at '
                    f'column {e.start + 1})') from None
            if i == 1:
                line = line.removeprefix('\ufeff')
            line = line.rstrip('\n').rstrip('\r')
            if line.strip() == '':
                continue
            yield i, line


def count_blank_lines(path: PathLike) -> int:
    r"""The number of blank lines in a text file (the only lines the readers skip)."""
    with open(path, 'rb') as f:
        raw = f.read()
    lines = raw.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    return sum(1 for line in lines if not line.strip())


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
    r"""The entities of one KG as read from its files.

    Attributes:
        path (Path): the file that lists them (``ent_ids_k``, or ``rel_triples_k`` in the OpenEA
            layout, where entities are the strings of the triples).
        file_id (LongTensor): ``[N]`` ids in file order; local id ``i`` is row ``i``.
        uri (list[str]): the entity as written (the ``ent_ids`` URI / label, or the OpenEA string).
        index (dict[int, int]): file id -> local id.
        line (list[int]): the 1-based line where each entity first appears.
        source (str): where the entities come from, for error messages.
    """

    def __init__(self, path: Path, file_id: list[int], uri: list[str],
                 line: list[int] | None = None, source: str | None = None):
        self.path = path
        self.file_id = torch.tensor(file_id, dtype=torch.long)
        self.uri = uri
        self.index = {g: i for i, g in enumerate(file_id)}
        self.line = line if line is not None else list(range(1, len(uri) + 1))
        self.source = source if source is not None else str(path)
        self._by_uri: dict[str, int] | None = None

    @property
    def by_uri(self) -> dict[str, int]:
        r"""Entity string -> file id (the OpenEA layout names entities by string)."""
        if self._by_uri is None:
            self._by_uri = {u: g for u, g in zip(self.uri, self.file_id.tolist())}
        return self._by_uri

    def __len__(self) -> int:
        return len(self.uri)

    def __repr__(self) -> str:
        return f'EntityTable({self.path}, {len(self)} entities)'


def _id_rows(path: Path, kind: str) -> list[tuple[int, str, int]]:
    """The ``id<TAB>uri`` rows of ``path`` as ``(id, uri, line)`` in file order; raises on a wrong column count,
    a non-integer or negative id and a duplicate id (naming both lines). ``kind``: what the ids name."""
    rows: list[tuple[int, str, int]] = []
    seen: dict[int, int] = {}
    for lineno, line in _lines(path):
        a, uri = _split(path, lineno, line, 2, 'id<TAB>uri' if kind == 'entity' else f'id<TAB>{kind} uri')
        i = _int(path, lineno, a, f'{kind} id')
        if i in seen:
            raise DataFormatError(path, lineno, f'duplicate {kind} id {i} (first on line {seen[i]})')
        seen[i] = lineno
        rows.append((i, uri, lineno))
    return rows


def read_entity_ids(path: PathLike, purpose: str = 'entity ids (id<TAB>uri)') -> EntityTable:
    r"""Reads an ``id<TAB>uri`` entity file (``ent_ids_1`` / ``ent_ids_2``).

    Raises on a wrong column count, a non-integer or negative id, a duplicate id (naming both
    lines) and an empty file."""
    path = check_file(path, purpose)
    rows = _id_rows(path, 'entity')
    if not rows:
        raise DataFormatError(path, None, f'no entities: the file is empty (expected {purpose})')
    ids, uris, lines = (list(col) for col in zip(*rows))
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
    by: str = 'id',
) -> Tensor | tuple[Tensor, list[int]]:
    r"""Reads ``id1<TAB>id2`` links (KG1 entity, KG2 entity).

    Raises on a link to an entity unknown to its KG, on a duplicate link and, when
    :obj:`one_to_one`, on an entity that appears in two links (gold links are one-to-one).

    Args:
        by: ``'id'``: the columns are integer file ids; ``'uri'``: they are entity strings as in
            the OpenEA layout (then :obj:`src` and :obj:`tgt` must be :class:`EntityTable` s).

    Returns:
        LongTensor ``[L, 2]`` of file ids in file order (and, with :obj:`with_lines`, the
        1-based line of each link).
    """
    if by not in ('id', 'uri'):
        raise ValueError(f"read_links: by must be 'id' or 'uri', got {by!r}")
    path = check_file(path, purpose)
    tables = (src, tgt)
    if by == 'uri':
        if not all(isinstance(t, EntityTable) for t in tables):
            raise TypeError("read_links(by='uri') needs the EntityTable of both KGs")
        keys = [t.by_uri for t in tables]
    else:
        keys = [t.index if isinstance(t, EntityTable) else t for t in tables]
    layout = 'id1<TAB>id2' if by == 'id' else 'entity1<TAB>entity2'
    rows: list[tuple[int, int]] = []
    seen: list[dict] = [{}, {}]  # per side: entity -> (partner, line)
    pairs: dict[tuple, int] = {}
    lines: list[int] = []
    for lineno, line in _lines(path):
        ends = _split(path, lineno, line, 2, layout)
        if by == 'id':
            ends = [_int(path, lineno, e, f'KG{k} entity id') for k, e in ((1, ends[0]),
                                                                           (2, ends[1]))]
        a, b = ends
        for k, (e, table, key) in enumerate(zip(ends, tables, keys), start=1):
            if key is None or e in key:
                continue
            if by == 'id':
                raise DataFormatError(path, lineno,
                                      f'link to unknown entity: {e} is not a KG{k} entity id')
            raise DataFormatError(path, lineno, f'link to unknown entity: {e[:120]!r} is not a '
                                  f'KG{k} entity (it is in no line of {table.source})')
        if (a, b) in pairs:
            raise DataFormatError(path, lineno, f'duplicate link {a} -> {b} (first on line '
                                  f'{pairs[a, b]})')
        pairs[a, b] = lineno
        if one_to_one:
            for k, (e, other) in enumerate(((a, b), (b, a)), start=1):
                if e in seen[k - 1]:
                    partner, first = seen[k - 1][e]
                    raise DataFormatError(
                        path, lineno, f'KG{k} entity {e} is linked twice (also to {partner} on '
                        f'line {first}); links must be one-to-one')
        seen[0].setdefault(a, (b, lineno))
        seen[1].setdefault(b, (a, lineno))
        rows.append((a, b) if by == 'id' else (keys[0][a], keys[1][b]))
        lines.append(lineno)
    out = torch.tensor(rows, dtype=torch.long) if rows else torch.empty(0, 2, dtype=torch.long)
    return (out, lines) if with_lines else out


def read_string_triples(
    path: PathLike,
    columns: tuple[str, str, str] = ('head', 'relation', 'tail'),
    purpose: str = 'relation triples (head<TAB>relation<TAB>tail)',
    allow_empty_last: bool = False,
) -> tuple[list[tuple[str, str, str]], list[int]]:
    r"""Reads three tab-separated string columns (OpenEA ``rel_triples`` / ``attr_triples``).

    Every field must be non-empty, except the last one with :obj:`allow_empty_last` (an attribute
    value may be the empty string).

    Returns:
        ``(rows, lines)``: the triples in file order and the 1-based line of each.
    """
    path = check_file(path, purpose)
    layout = '<TAB>'.join(columns)
    rows: list[tuple[str, str, str]] = []
    lines: list[int] = []
    for lineno, line in _lines(path):
        cols = _split(path, lineno, line, 3, layout)
        for k, (name, value) in enumerate(zip(columns, cols)):
            if value.strip() == '' and not (allow_empty_last and k == 2):
                raise DataFormatError(path, lineno, f'empty {name} in column {k + 1} (expected '
                                      f'{layout})')
        rows.append((cols[0], cols[1], cols[2]))
        lines.append(lineno)
    return rows, lines


def read_names(
    path: PathLike,
    entities: EntityTable,
    by: str = 'id',
    purpose: str = 'entity names (entity<TAB>name)',
) -> dict[int, str]:
    r"""Reads an ``ent_names_k`` file: ``entity<TAB>name``, the entity written as in the layout's
    entity column (an integer id for :obj:`by` ``'id'``, the entity string for ``'uri'``).

    Raises on an entity that is not in :obj:`entities` and on an entity named twice. Entities
    without a line keep no name here (the caller falls back to the URI).

    Returns:
        ``{local id: name}``.
    """
    path = check_file(path, purpose)
    first: dict[int, int] = {}
    out: dict[int, str] = {}
    for lineno, line in _lines(path):
        e, name = _split(path, lineno, line, 2, 'entity<TAB>name')
        g = _int(path, lineno, e, 'entity id') if by == 'id' else entities.by_uri.get(e)
        i = entities.index.get(g) if g is not None else None
        if i is None:
            raise DataFormatError(path, lineno, f'entity {e[:120]!r} is not an entity of this KG '
                                  f'(it is in no line of {entities.source})')
        if i in first:
            raise DataFormatError(path, lineno,
                                  f'entity {e[:120]!r} named twice (first on line {first[i]})')
        first[i] = lineno
        out[i] = name.strip()
    return out


def read_rel_ids(path: PathLike,
                 purpose: str = 'relation ids (id<TAB>relation uri)') -> dict[int, str]:
    r"""Reads an RSN ``rel_ids`` file: ``id<TAB>relation uri`` -> ``{id: uri}`` (file order)."""
    return {r: uri for r, uri, _ in _id_rows(check_file(path, purpose), 'relation')}


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

