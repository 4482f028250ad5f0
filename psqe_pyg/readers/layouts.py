r"""The two folder layouts of entity-alignment benchmarks, read into one :class:`RawPair`
(:func:`psqe_pyg.pair.pair_from_raw` turns it into the pair :class:`~torch_geometric.data.HeteroData`).

**OpenEA layout** (:func:`read_openea_layout`; entities and relations are strings, e.g. URIs):

* ``rel_triples_1``, ``rel_triples_2``: ``head<TAB>relation<TAB>tail``. A KG's entities are the
  strings of its triples, numbered in order of first appearance (heads and tails line by line,
  then the entities that only ``attr_triples`` name); relations likewise. KG1 is numbered
  ``0..N1-1`` and KG2 ``N1..N1+N2-1`` (these are the ``file_id`` s; an image pickle for this
  layout is keyed by them).
* ``attr_triples_1/2`` (optional, both or neither used): ``entity<TAB>attribute<TAB>value``.
  ``x_attr`` is a bag over one vocabulary shared by both KGs of the attribute names (their local
  names, :func:`psqe_pyg.features.normalize_attribute`) and of the value tokens (lower-cased runs
  of letters and digits), each value token hashed into one of :data:`VALUE_BUCKETS` buckets
  ``value<k>`` (CRC-32), so equal values in the two KGs share a column.
* ``ent_links`` (optional): ``entity1<TAB>entity2`` gold links, for evaluation only.
* ``721_5fold/<k>/train_links``, ``valid_links``, ``test_links`` (optional): the fold ``k``
  split: ``train_mask`` = train and valid links (the links a run may use for validation),
  ``test_mask`` = test links.

**Id layout** of JAPE / GCN-Align / RSN / BERT-INT (:func:`read_id_layout`):

* ``ent_ids_1``, ``ent_ids_2``: ``id<TAB>uri`` (or a label); ``triples_1``, ``triples_2``:
  ``head<TAB>relation<TAB>tail`` ids. Each KG's ids are its own namespace: KG1 and KG2 may reuse
  the same numbers (only files keyed by one global id, a single image pickle or a translated-name
  JSON, need them disjoint, and say so).
* ``rel_ids_1/2`` (optional, both or neither): ``id<TAB>relation uri``; every triple's relation
  must be listed.
* links, the first of: ``ill_ent_ids`` (all links, no split); ``ref_ent_ids`` with optional
  ``sup_ent_ids``; ``ref_pairs`` with optional ``sup_pairs``. The ``sup`` (training) links are
  either all inside ``ref`` (RSN / SRPRS: ``ref`` = all links) or all outside it (JAPE /
  BERT-INT: ``ref`` = the test links); ``train_mask`` = the ``sup`` links either way.
* ``training_attrs_1/2`` (optional, both or neither): ``uri<TAB>attr<TAB>attr...``.

**Both layouts**: optional ``ent_names_1/2`` (``entity<TAB>name``, the entity as in the layout's
entity column); an entity without a name line gets the local name of its URI / label
(:func:`~psqe_pyg.readers.io.uri_local_name`). Gold links are optional: without them (or with an empty link file) the
pair has no ``('src', 'same_as', 'tgt')`` edges and evaluation is skipped. Without a given split
the customary one is used (:func:`random_split_masks`). Every line is kept (self-loops and
repeated triples too, counted in ``data.meta``); only blank lines are skipped, counted per file.
"""
from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from psqe_pyg.readers.io import (
    DataFormatError,
    EntityTable,
    check_file,
    read_attrs,
    read_entity_ids,
    read_links,
    read_names,
    read_rel_ids,
    read_string_triples,
    read_translated_names,
    read_triples,
)

__all__ = [
    'LAYOUTS',
    'RawKG',
    'RawPair',
    'VALUE_BUCKETS',
    'detect_layout',
    'names_from_json',
    'read_id_layout',
    'read_layout',
    'read_openea_layout',
]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

# Value tokens of OpenEA attribute triples are hashed into this many shared bag columns.
VALUE_BUCKETS = 256

# layout -> (required files, optional files), as listed in error messages
LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    'openea': (('rel_triples_1', 'rel_triples_2'),
               ('attr_triples_1', 'attr_triples_2', 'ent_links', 'ent_names_1', 'ent_names_2',
                '721_5fold/<k>/train_links', '721_5fold/<k>/valid_links',
                '721_5fold/<k>/test_links')),
    'ids': (('ent_ids_1', 'ent_ids_2', 'triples_1', 'triples_2'),
            ('rel_ids_1', 'rel_ids_2', 'ill_ent_ids', 'ref_ent_ids', 'sup_ent_ids', 'ref_pairs',
             'sup_pairs', 'training_attrs_1', 'training_attrs_2', 'ent_names_1', 'ent_names_2')),
}
ID_LINK_FILES = (('ill_ent_ids', None), ('ref_ent_ids', 'sup_ent_ids'), ('ref_pairs', 'sup_pairs'))
FOLDS_DIR = '721_5fold'

_PURPOSE = {
    'rel_triples': 'relation triples of KG{k} (head<TAB>relation<TAB>tail)',
    'attr_triples': 'attribute triples of KG{k} (entity<TAB>attribute<TAB>value)',
    'ent_ids': 'entity ids of KG{k} (id<TAB>uri)',
    'triples': 'relation triples of KG{k} (head id<TAB>relation id<TAB>tail id)',
    'rel_ids': 'relation ids of KG{k} (id<TAB>relation uri)',
    'training_attrs': 'attribute names of KG{k} (uri<TAB>attr<TAB>attr...)',
    'ent_names': 'entity names of KG{k} (entity<TAB>name)',
}


def _purpose(stem: str, k: int) -> str:
    return _PURPOSE[stem].format(k=k)


@dataclass
class RawKG:
    r"""One KG as read from a folder, before features are computed.

    Args:
        entities: the entity table (file ids, URIs / strings as written, lines).
        triples: ``[E, 3]`` ``(head, relation, tail)`` file ids.
        relation_uri: ``{relation file id: uri}`` when the relations have names.
        attrs: attribute tokens per entity (``None``: no attribute file).
        names: a name per local entity (``None`` entries fall back to the URI's local name).
    """
    entities: EntityTable
    triples: Tensor
    relation_uri: dict[int, str] | None = None
    attrs: list[list[str]] | None = None
    names: list[str | None] | None = None


@dataclass
class RawPair:
    r"""A KG pair as read from a folder: two :class:`RawKG` s and the gold links.

    Args:
        links: ``[L, 2]`` gold links as file ids, or ``None`` (no link file / an empty one).
        train: ``[L]`` bool training (validation) links when the folder gives a split, else
            ``None`` (then :func:`pair_from_raw` draws the customary random split).
        test: ``[L]`` bool test links (default ``~train``).
        info: provenance for ``data.meta`` (layout, link and name sources, split, attributes, ...).
        files: every file read (blank lines are counted per file).
    """
    kg1: RawKG
    kg2: RawKG
    links: Tensor | None
    train: Tensor | None = None
    test: Tensor | None = None
    info: dict = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Layout detection
# ------------------------------------------------------------------------------------------------
def detect_layout(folder: PathLike) -> str:
    r"""``'openea'`` or ``'ids'``: the layout whose required files :obj:`folder` holds.

    Raises:
        FileNotFoundError: no such folder, or a folder that matches no layout (the message lists
            each layout's files and which are missing).
        ValueError: a folder that holds both layouts' files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f'{folder}: no such folder (expected a folder holding a KG pair)')
    found = [name for name, (req, _) in LAYOUTS.items()
             if all((folder / f).is_file() for f in req)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise ValueError(f'{folder}: holds the files of both the OpenEA layout (rel_triples_1/2) '
                         'and the id layout (ent_ids_1/2, triples_1/2); keep one of them')
    lines = []
    for name, (req, opt) in LAYOUTS.items():
        missing = [f for f in req if not (folder / f).is_file()]
        lines.append(f'  {name}: needs {", ".join(req)} (missing: {", ".join(missing)}); '
                     f'optional: {", ".join(opt)}')
    raise FileNotFoundError(f'{folder}: matches no KG-pair layout. Looked for:\n' +
                            '\n'.join(lines))


def read_layout(folder: PathLike, layout: str | None = None, fold: int | None = None) -> RawPair:
    r"""Reads :obj:`folder` in its layout (detected by default; :obj:`fold` is OpenEA's)."""
    layout = detect_layout(folder) if layout is None else layout
    if layout == 'openea':
        return read_openea_layout(folder, fold=fold)
    if fold is not None:
        raise ValueError(f'{folder}: fold= applies to the OpenEA layout only (721_5fold/<k>/)')
    return read_id_layout(folder)


# ------------------------------------------------------------------------------------------------
# OpenEA layout
# ------------------------------------------------------------------------------------------------
_TOKEN = re.compile(r'\w+')


def _attr_tokens(attribute: str, value: str) -> list[str]:
    r"""The bag tokens of one attribute triple: the attribute name and the hashed value tokens."""
    return [attribute] + [f'value{zlib.crc32(t.encode()) % VALUE_BUCKETS}'
                          for t in _TOKEN.findall(value.lower())]


def _read_openea_kg(folder: Path, k: int, offset: int, files: list[Path],
                    info: dict) -> RawKG:
    rel_path = folder / f'rel_triples_{k}'
    rows, lines = read_string_triples(rel_path, purpose=_purpose('rel_triples', k))
    if not rows:
        raise DataFormatError(rel_path, None, 'empty KG: no relation triples (expected '
                              'head<TAB>relation<TAB>tail lines)')
    files.append(rel_path)
    ent: dict[str, int] = {}
    ent_line: list[int] = []
    rel: dict[str, int] = {}
    for (h, r, t), line in zip(rows, lines):
        for e in (h, t):
            if e not in ent:
                ent[e] = len(ent)
                ent_line.append(line)
        rel.setdefault(r, len(rel))
    triples = torch.tensor([(offset + ent[h], rel[r], offset + ent[t]) for h, r, t in rows],
                           dtype=torch.long)
    info.setdefault('self_loops', {})[rel_path.name] = sum(h == t for h, _, t in rows)
    attr_path = folder / f'attr_triples_{k}'
    attr_rows: list[tuple[str, str, str]] = []
    source = rel_path.name
    if attr_path.is_file():
        attr_rows, attr_lines = read_string_triples(
            attr_path, ('entity', 'attribute', 'value'), _purpose('attr_triples', k),
            allow_empty_last=True)
        files.append(attr_path)
        source = f'{rel_path.name} or {attr_path.name}'
        for (e, _, _), line in zip(attr_rows, attr_lines):
            if e not in ent:
                ent[e] = len(ent)
                ent_line.append(line)
    uris = list(ent)
    table = EntityTable(rel_path, [offset + i for i in range(len(uris))], uris, ent_line,
                        source=f'{folder / source}')
    attrs = None
    if attr_path.is_file():
        attrs = [[] for _ in uris]
        for e, a, v in attr_rows:
            attrs[ent[e]].extend(_attr_tokens(a, v))
    return RawKG(table, triples, {i: r for r, i in rel.items()}, attrs)


def _fold_dir(folder: Path, fold: int | None) -> Path | None:
    root = folder / FOLDS_DIR
    folds = sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()) \
        if root.is_dir() else []
    if fold is None:
        return root / str(folds[0]) if folds else None
    if fold not in folds:
        raise FileNotFoundError(f'{root / str(fold)}: no such fold (folds present: '
                                f'{folds or "none"})')
    return root / str(fold)


def _read_folds(fold_dir: Path, e1: EntityTable, e2: EntityTable, links: Tensor | None,
                files: list[Path]) -> tuple[Tensor, Tensor, Tensor]:
    r"""``(links, train, test)`` from ``<fold>/{train,valid,test}_links`` (valid optional)."""
    parts: dict[str, tuple[Tensor, list[int], Path]] = {}
    for name in ('train_links', 'valid_links', 'test_links'):
        path = fold_dir / name
        if name == 'valid_links' and not path.is_file():
            continue
        got, lines = read_links(path, e1, e2, f'the {name.split("_")[0]} links of fold '
                                f'{fold_dir.name} (entity1<TAB>entity2)', with_lines=True,
                                by='uri')
        parts[name] = (got, lines, path)
        files.append(path)
    if links is None:  # no ent_links: the fold files are the links, one-to-one across them
        seen: list[dict[int, str]] = [{}, {}]
        for name, (got, lines, path) in parts.items():
            for pair, line in zip(got.tolist(), lines):
                for side, (g, table) in enumerate(zip(pair, (e1, e2))):
                    if g in seen[side]:
                        raise DataFormatError(path, line, f'KG{side + 1} entity '
                                              f'{table.uri[table.index[g]][:80]!r} is also '
                                              f'linked in {seen[side][g]}; links must be '
                                              'one-to-one')
                for side, g in enumerate(pair):
                    seen[side].setdefault(g, name)
        links = torch.cat([p[0] for p in parts.values()])
    where = {tuple(pair): i for i, pair in enumerate(links.tolist())}
    train = torch.zeros(links.size(0), dtype=torch.bool)
    test = torch.zeros(links.size(0), dtype=torch.bool)
    first: dict[int, str] = {}
    for name, (got, lines, path) in parts.items():
        mask = test if name == 'test_links' else train
        for (a, b), line in zip(got.tolist(), lines):
            i = where.get((a, b))
            if i is None:
                raise DataFormatError(path, line, f'link {e1.uri[e1.index[a]][:80]!r} -> '
                                      f'{e2.uri[e2.index[b]][:80]!r} is not in ent_links')
            if i in first:
                raise DataFormatError(path, line, f'link {e1.uri[e1.index[a]][:80]!r} -> '
                                      f'{e2.uri[e2.index[b]][:80]!r} is also in {first[i]}')
            first[i] = name
            mask[i] = True
    return links, train, test


def read_openea_layout(folder: PathLike, fold: int | None = None) -> RawPair:
    r"""Reads a folder in the OpenEA layout (see the module docstring).

    Args:
        fold: the ``721_5fold/<fold>/`` split to use (default: the lowest fold present; without
            folds the random split of :func:`pair_from_raw`).
    """
    folder = Path(folder)
    files: list[Path] = []
    info: dict = {'layout': 'openea'}
    kg1 = _read_openea_kg(folder, 1, 0, files, info)
    kg2 = _read_openea_kg(folder, 2, len(kg1.entities), files, info)
    e1, e2 = kg1.entities, kg2.entities
    have_attrs = [kg.attrs is not None for kg in (kg1, kg2)]
    info['attributes'] = _attribute_note(have_attrs, 'attr_triples', 'names + hashed value tokens')
    if not all(have_attrs):
        kg1.attrs = kg2.attrs = None
    links = None
    info['links'] = 'none (no ent_links)'
    if (folder / 'ent_links').is_file():
        links = read_links(folder / 'ent_links', e1, e2, 'gold links (entity1<TAB>entity2)',
                           by='uri')
        files.append(folder / 'ent_links')
        info['links'] = 'ent_links'
    fold_dir = _fold_dir(folder, fold)
    train = test = None
    if fold_dir is not None:
        links, train, test = _read_folds(fold_dir, e1, e2, links, files)
        info['links'] = info['links'] if info['links'] == 'ent_links' else \
            f'{FOLDS_DIR}/{fold_dir.name}/*_links'
        info['split'] = (f'{FOLDS_DIR}/{fold_dir.name}: train = train_links + valid_links, '
                         'test = test_links')
        unsplit = int((~train & ~test).sum())
        if unsplit:
            info['links_in_no_fold_file'] = unsplit
            log.warning('%s: %d links of ent_links are in no file of fold %s (neither train nor '
                        'test)', folder, unsplit, fold_dir.name)
    _read_name_files(folder, (kg1, kg2), 'uri', files, info)
    return RawPair(kg1, kg2, links, train, test, info, files)


# ------------------------------------------------------------------------------------------------
# Id layout
# ------------------------------------------------------------------------------------------------
def _attribute_note(have: Sequence[bool], stem: str, what: str) -> str:
    if all(have):
        return f'{stem}_1/2 ({what})'
    present = [f'{stem}_{k}' for k, h in enumerate(have, start=1) if h]
    return (('none: only ' + ', '.join(present)) if present else 'none') + \
        f' (x_attr needs both {stem}_1 and {stem}_2)'


def _link_files(folder: Path, links: str | None) -> tuple[str, str | None] | None:
    for ref, sup in ID_LINK_FILES:
        if links in (None, ref) and (folder / ref).is_file():
            return ref, sup
    if links is not None:  # a named link file is required
        ref, sup = next(p for p in ID_LINK_FILES if p[0] == links)
        check_file(folder / ref, 'gold links (KG1 id<TAB>KG2 id)')
    for ref, sup in ID_LINK_FILES:
        if sup is not None and (folder / sup).is_file():
            raise DataFormatError(folder / sup, None, f'training links without the reference '
                                  f'links: {ref} is missing')
    return None


def _read_id_links(folder: Path, e1: EntityTable, e2: EntityTable, names: tuple[str, str | None],
                   files: list[Path], info: dict):
    ref_name, sup_name = names
    ref_path = folder / ref_name
    purpose = 'gold links (KG1 id<TAB>KG2 id)'
    ref, ref_lines = read_links(ref_path, e1, e2, purpose, with_lines=True)
    files.append(ref_path)
    sup_path = folder / sup_name if sup_name is not None else None
    if sup_path is None or not sup_path.is_file():
        info['links'] = ref_name
        return ref, None
    sup, sup_lines = read_links(sup_path, e1, e2, 'training links (KG1 id<TAB>KG2 id)',
                                with_lines=True)
    files.append(sup_path)
    if ref.size(0) == 0 and sup.size(0) > 0:
        raise DataFormatError(ref_path, None, f'no links, but {sup_name} has {sup.size(0)} '
                              f'training links: {ref_name} must hold the test (or all) links; '
                              'leave both files empty for a pair without gold links')
    info['links'] = f'{ref_name} + {sup_name}'
    ref_pos = {tuple(p): i for i, p in enumerate(ref.tolist())}
    inside = [tuple(p) in ref_pos for p in sup.tolist()]
    if all(inside):  # RSN / SRPRS: ref holds every link
        train = torch.zeros(ref.size(0), dtype=torch.bool)
        train[[ref_pos[tuple(p)] for p in sup.tolist()]] = True
        return ref, train
    if any(inside):
        k = inside.index(False) if inside[0] else inside.index(True)
        a, b = sup[k].tolist()
        state = 'is not' if not inside[k] else 'is'
        other = inside.index(not inside[k])
        raise DataFormatError(sup_path, sup_lines[k], f'training link {a} -> {b} {state} in '
                              f'{ref_name}, unlike line {sup_lines[other]}: the training links '
                              f'must be all inside {ref_name} (RSN) or all outside it (JAPE)')
    # JAPE / BERT-INT: ref holds the test links only; links = sup then ref, one-to-one overall
    for side in (0, 1):
        taken = {int(g): ref_lines[i] for i, g in enumerate(ref[:, side].tolist())}
        for i, g in enumerate(sup[:, side].tolist()):
            if g in taken:
                raise DataFormatError(sup_path, sup_lines[i], f'KG{side + 1} entity {g} is also '
                                      f'linked on line {taken[g]} of {ref_name}; links must be '
                                      'one-to-one')
    train = torch.zeros(sup.size(0) + ref.size(0), dtype=torch.bool)
    train[:sup.size(0)] = True
    return torch.cat([sup, ref]), train


def read_id_layout(folder: PathLike, links: str | None = None) -> RawPair:
    r"""Reads a folder in the id layout (see the module docstring).

    Args:
        links: the reference link file to read (``'ill_ent_ids'``, ``'ref_ent_ids'`` or
            ``'ref_pairs'``; then it is required); default: the first one present, or none.
    """
    folder = Path(folder)
    files: list[Path] = []
    info: dict = {'layout': 'ids'}
    tables = [read_entity_ids(folder / f'ent_ids_{k}', _purpose('ent_ids', k)) for k in (1, 2)]
    files += [t.path for t in tables]
    have_rel = [(folder / f'rel_ids_{k}').is_file() for k in (1, 2)]
    if any(have_rel) and not all(have_rel):
        missing = folder / f'rel_ids_{have_rel.index(False) + 1}'
        check_file(missing, 'relation ids of both KGs (rel_ids_1 and rel_ids_2, or neither)')
    kgs = []
    for k, table in enumerate(tables, start=1):
        rel_uri = None
        if all(have_rel):
            rel_uri = read_rel_ids(folder / f'rel_ids_{k}', _purpose('rel_ids', k))
            files.append(folder / f'rel_ids_{k}')
        path = folder / f'triples_{k}'
        triples = read_triples(path, table, rel_uri, purpose=_purpose('triples', k))
        if triples.size(0) == 0:
            raise DataFormatError(path, None, 'empty KG: no relation triples (expected '
                                  'head<TAB>relation<TAB>tail lines of ids)')
        files.append(path)
        info.setdefault('self_loops', {})[path.name] = int((triples[:, 0] == triples[:, 2]).sum())
        kgs.append(RawKG(table, triples, rel_uri))
    attr_paths = [folder / f'training_attrs_{k}' for k in (1, 2)]
    have_attrs = [p.is_file() for p in attr_paths]
    info['attributes'] = _attribute_note(have_attrs, 'training_attrs', 'attribute names')
    if all(have_attrs):
        for kg, path in zip(kgs, attr_paths):
            kg.attrs = read_attrs(path, kg.entities)
            files.append(path)
    link_names = _link_files(folder, links)
    link_tensor = train = None
    info['links'] = 'none (no ill_ent_ids, ref_ent_ids or ref_pairs)'
    if link_names is not None:
        link_tensor, train = _read_id_links(folder, tables[0], tables[1], link_names, files, info)
        if train is not None:
            info['split'] = (f'the dataset\'s own: train = {link_names[1]}, test = the other '
                             'links')
    _read_name_files(folder, kgs, 'id', files, info)
    return RawPair(kgs[0], kgs[1], link_tensor, train, None, info, files)


# ------------------------------------------------------------------------------------------------
# Names
# ------------------------------------------------------------------------------------------------
def _read_name_files(folder: Path, kgs: Sequence[RawKG], by: str, files: list[Path],
                     info: dict) -> None:
    used = []
    for k, kg in enumerate(kgs, start=1):
        path = folder / f'ent_names_{k}'
        if not path.is_file():
            continue
        named = read_names(path, kg.entities, by, _purpose('ent_names', k))
        kg.names = [named.get(i) for i in range(len(kg.entities))]
        files.append(path)
        used.append(path.name)
    info['names'] = ' + '.join(used) + ' (URI local names where missing)' if used else \
        'URI / label local names'


def check_disjoint(e1: EntityTable, e2: EntityTable, why: str) -> None:
    r"""KG1 and KG2 ids must not overlap for a file keyed by one global id (:obj:`why`)."""
    for i, g in enumerate(e2.file_id.tolist()):
        if g in e1.index:
            raise DataFormatError(
                e2.path, e2.line[i], f'entity id {g} is also a KG1 entity id (line '
                f'{e1.line[e1.index[g]]} of {e1.path}); KG1 and KG2 ids must be disjoint for '
                f'{why}')


def names_from_json(path: PathLike, e1: EntityTable,
                    e2: EntityTable) -> tuple[list[str | None], list[str | None]]:
    r"""Names of both KGs from a translated-name JSON (``[[global_id, [token, ...]], ...]``) that
    covers every entity of both; an entity with an empty token list gets ``None`` (its URI's
    local name later). Needs disjoint KG1 / KG2 ids."""
    check_disjoint(e1, e2, f'the translated-name file {path} (keyed by global id)')
    tokens = read_translated_names(path)
    out = []
    for table, kg in ((e1, 'KG1'), (e2, 'KG2')):
        names: list[str | None] = []
        for i, g in enumerate(table.file_id.tolist()):
            tok = tokens.get(g)
            if tok is None:
                raise DataFormatError(
                    path, None, f'no name for entity {g} of {kg} (line {table.line[i]} of '
                    f'{table.path}): the name file must cover every entity of both KGs')
            names.append(' '.join(tok).strip() or None)
        out.append(names)
    known = set(e1.index) | set(e2.index)
    for g in tokens:
        if g not in known:
            raise DataFormatError(path, None, f'entity id {g} is an entity of neither KG '
                                  f'({e1.path}, {e2.path}): is this the name file of another '
                                  'dataset?')
    return out[0], out[1]
