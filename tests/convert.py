"""Converts the shared DBP15K / SRPRS sets to the OpenEA layout (a test helper, also a script).

URIs are the entities (for SRPRS dbp_wd KG2: the Wikidata URIs of ``ent_ids_2_old``, its labels
becoming ``ent_names_2``), ``ent_names_1/2`` hold the translated names (entities whose token list is
empty get no line), relations are the ``rel_ids`` URIs (DBP15K has none: ``relation/<id>``), SRPRS's
``training_attrs`` become ``attr_triples`` with empty values, ``ent_links`` keeps the original link
order and SRPRS's split becomes ``721_5fold/1`` (train = sup_ent_ids, test = ref_ent_ids minus sup).

    python tests/convert.py ../shared/data /work/tmp-convert [DBP15K/zh_en ...]
"""
from __future__ import annotations

import sys
from pathlib import Path

from psqe_pyg.readers import (
    read_attrs,
    read_entity_ids,
    read_links,
    read_rel_ids,
    read_translated_names,
    read_triples,
    uri_local_name,
)

SETS = {
    'DBP15K/zh_en': ('DBP15K/zh_en', 'DBP15K/translated_ent_name/dbp_zh_en.json'),
    'DBP15K/ja_en': ('DBP15K/ja_en', 'DBP15K/translated_ent_name/dbp_ja_en.json'),
    'DBP15K/fr_en': ('DBP15K/fr_en', 'DBP15K/translated_ent_name/dbp_fr_en.json'),
    'SRPRS/en_fr': ('SRPRS/en_fr_15k_V1', 'SRPRS/translated_ent_name/srprs_fr_en.json'),
    'SRPRS/en_de': ('SRPRS/en_de_15k_V1', 'SRPRS/translated_ent_name/srprs_de_en.json'),
    'SRPRS/dbp_wd': ('SRPRS/dbp_wd_15k_V1', None),
}


def _write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines('\t'.join(row) + '\n' for row in rows)


def convert(data_root: str | Path, spec: str, out: str | Path) -> Path:
    """Writes ``spec`` (a key of :data:`SETS`) in the OpenEA layout to ``out``; returns ``out``."""
    folder, name_json = SETS[spec]
    src, out = Path(data_root) / folder, Path(out)
    tables = [read_entity_ids(src / f'ent_ids_{k}') for k in (1, 2)]
    uris = [list(t.uri) for t in tables]
    labels = None
    if (src / 'ent_ids_2_old').is_file():  # dbp_wd: Wikidata URIs as entities, labels as names
        old = read_entity_ids(src / 'ent_ids_2_old')
        labels = uris[1]
        uris[1] = [old.uri[old.index[g]] for g in tables[1].file_id.tolist()]
    uri_of = [dict(zip(t.file_id.tolist(), u)) for t, u in zip(tables, uris)]
    for k, u in enumerate(uris, start=1):
        if len(set(u)) != len(u):
            raise ValueError(f'{src}: KG{k} URIs are not unique; they cannot name entities')
    has_rel = (src / 'rel_ids_1').is_file()
    for k, table in enumerate(tables, start=1):
        rel = read_rel_ids(src / f'rel_ids_{k}') if has_rel else None
        triples = read_triples(src / f'triples_{k}', table, rel).tolist()
        _write(out / f'rel_triples_{k}', [
            (uri_of[k - 1][h], rel[r] if rel else f'relation/{r}', uri_of[k - 1][t])
            for h, r, t in triples])
        if (src / f'training_attrs_{k}').is_file():
            attrs = read_attrs(src / f'training_attrs_{k}', table)
            _write(out / f'attr_triples_{k}', [(uris[k - 1][i], a, '')
                                               for i, names in enumerate(attrs) for a in names])
    if name_json is not None:
        tokens = read_translated_names(Path(data_root) / name_json)
        for k, table in enumerate(tables, start=1):
            _write(out / f'ent_names_{k}', [(uris[k - 1][i], ' '.join(tokens[g]))
                                            for i, g in enumerate(table.file_id.tolist())
                                            if ' '.join(tokens[g]).strip()])
    elif labels is not None:
        _write(out / 'ent_names_2', [(u, uri_local_name(lab)) for u, lab in zip(uris[1], labels)])
    ref_file = 'ill_ent_ids' if (src / 'ill_ent_ids').is_file() else 'ref_ent_ids'
    links = read_links(src / ref_file, tables[0], tables[1]).tolist()
    as_uri = [(uri_of[0][a], uri_of[1][b]) for a, b in links]
    _write(out / 'ent_links', as_uri)
    if (src / 'sup_ent_ids').is_file():
        sup = {tuple(p) for p in read_links(src / 'sup_ent_ids', tables[0], tables[1]).tolist()}
        fold = out / '721_5fold' / '1'
        _write(fold / 'train_links', [u for p, u in zip(links, as_uri) if tuple(p) in sup])
        _write(fold / 'test_links', [u for p, u in zip(links, as_uri) if tuple(p) not in sup])
    return out


if __name__ == '__main__':
    root, target, *specs = sys.argv[1:]
    for spec in specs or SETS:
        print(convert(root, spec, Path(target) / spec.replace('/', '_')))
