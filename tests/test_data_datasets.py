"""Dataset classes on tiny generated file trees: cache keys, image features, raw-file errors."""
from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from psqe_pyg.datasets import DBP15K, SRPRS, dataset_summary, load_dataset
from psqe_pyg.pair import SAME_AS
from psqe_pyg.readers import DataFormatError


def _write_kg_files(folder, *, n1=6, n2=5, rel=False):
    folder.mkdir(parents=True, exist_ok=True)
    e1 = [(i, f'http://fr.dbpedia.org/resource/E_{i}') for i in range(n1)]
    e2 = [(100 + i, f'http://dbpedia.org/resource/E_{i}') for i in range(n2)]
    (folder / 'ent_ids_1').write_text(''.join(f'{a}\t{b}\n' for a, b in e1))
    (folder / 'ent_ids_2').write_text(''.join(f'{a}\t{b}\n' for a, b in e2))
    t1 = [(i, 1000 + i % 2, (i + 1) % n1) for i in range(n1)]
    t2 = [(100 + i, 2000 + i % 3, 100 + (i + 1) % n2) for i in range(n2)]
    (folder / 'triples_1').write_text(''.join(f'{h}\t{r}\t{t}\n' for h, r, t in t1))
    (folder / 'triples_2').write_text(''.join(f'{h}\t{r}\t{t}\n' for h, r, t in t2))
    links = [(i, 100 + i) for i in range(4)]
    if rel:
        (folder / 'rel_ids_1').write_text('1000\thttp://o/a\n1001\thttp://o/b\n')
        (folder / 'rel_ids_2').write_text('2000\thttp://o/a\n2001\thttp://o/b\n2002\thttp://o/c\n')
    return e1, e2, links


@pytest.fixture
def dbp_root(tmp_path):
    root = tmp_path / 'data'
    e1, e2, links = _write_kg_files(root / 'DBP15K' / 'fr_en')
    (root / 'DBP15K' / 'fr_en' / 'ill_ent_ids').write_text(''.join(f'{a}\t{b}\n' for a, b in links))
    names = [[i, ['thing', str(i)]] for i, _ in e1] + [[g, ['thing', str(g - 100)]] for g, _ in e2]
    names[2][1] = []  # an empty translated name falls back to the URI
    (root / 'DBP15K' / 'translated_ent_name').mkdir()
    (root / 'DBP15K' / 'translated_ent_name' / 'dbp_fr_en.json').write_text(json.dumps(names))
    return root


@pytest.fixture
def srprs_root(tmp_path):
    root = tmp_path / 'data'
    folder = root / 'SRPRS' / 'dbp_wd_15k_V1'
    e1, e2, links = _write_kg_files(folder, rel=True)
    (folder / 'ent_ids_2').write_text(''.join(f'{g}\tLabel_{g - 100}\n' for g, _ in e2))
    (folder / 'ent_ids_2_old').write_text(''.join(f'{g}\thttp://www.wikidata.org/entity/Q{g}\n'
                                                  for g, _ in e2))
    (folder / 'ref_ent_ids').write_text(''.join(f'{a}\t{b}\n' for a, b in links))
    (folder / 'sup_ent_ids').write_text(f'{links[2][0]}\t{links[2][1]}\n')
    (folder / 'training_attrs_1').write_text('http://fr.dbpedia.org/resource/E_0\thttp://o/p\n')
    return root


def test_dbp15k_small(dbp_root):
    ds = DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)
    data = ds[0]
    assert data['src'].name[0] == 'thing 0' and data['src'].name[2] == 'E 2'  # URI fallback
    assert data.meta['names_from_uri'] == 1
    s = dataset_summary(data)
    assert s['src'] == {'entities': 6, 'relation_triples': 6, 'relations': 2,
                        'modalities': {'name': 512, 'rel': 1000}}
    assert s['tgt']['relations'] == 3
    assert s['links'] == {'total': 4, 'train': 1, 'test': 3}  # round(0.3 * 4) = 1
    assert data['tgt', 'rel', 'tgt'].relation_info['file_id'] == [2000, 2001, 2002]
    assert data[SAME_AS].edge_index.tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]


def test_cache_location_and_keys(dbp_root, tmp_path, monkeypatch, psqe_cache_dir):
    ds = DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)
    path = ds.processed_paths[0]
    assert path.startswith(str(psqe_cache_dir / 'DBP15K' / 'fr_en'))
    assert re.search(r'name-hash_img-none_split-s0-r0\.3_raw-[0-9a-f]{8}\.pt$', path)
    other = DBP15K(dbp_root, 'fr_en', name_encoder='hash', split_seed=7, train_ratio=0.5,
                   log=False)
    assert other.processed_paths[0] != path and 'split-s7-r0.5' in other.processed_paths[0]
    assert int(other[0][SAME_AS].train_mask.sum()) == 2
    # explicit processed_dir wins; without the env var the default is <root>/DBP15K/<pair>/processed
    mine = DBP15K(dbp_root, 'fr_en', name_encoder='hash', processed_dir=tmp_path / 'pd', log=False)
    assert mine.processed_paths[0].startswith(str(tmp_path / 'pd'))
    monkeypatch.delenv('PSQE_PYG_CACHE')
    default = DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)
    assert default.processed_dir == str(dbp_root / 'DBP15K' / 'fr_en' / 'processed')
    assert not list((dbp_root / 'DBP15K' / 'fr_en' / 'processed').glob('*.tmp-*'))


def test_stale_cache_is_never_read(dbp_root, tmp_path):
    kw = dict(name_encoder='hash', processed_dir=tmp_path / 'pd', log=False)
    a = DBP15K(dbp_root, 'fr_en', **kw)[0]
    rng = np.random.default_rng(0)
    img = {g: rng.normal(size=4) for g in [0, 1, 100]}
    p = tmp_path / 'img.pkl'
    p.write_bytes(pickle.dumps(img))
    b = DBP15K(dbp_root, 'fr_en', image_features=p, **kw)[0]
    assert 'x_img' not in a['src'] and b['src'].img_mask.tolist() == [True, True] + [False] * 4
    assert torch.allclose(b['tgt'].x_img[0], torch.tensor(img[100], dtype=torch.float32))
    # new image content -> new cache file, new features
    img[100] = rng.normal(size=4)
    p.write_bytes(pickle.dumps(img))
    c = DBP15K(dbp_root, 'fr_en', image_features=p, **kw)[0]
    assert torch.allclose(c['tgt'].x_img[0], torch.tensor(img[100], dtype=torch.float32))
    assert len(list((tmp_path / 'pd').glob('*.pt'))) == 3
    s = dataset_summary(c)
    assert s['src']['modalities']['img'] == 4 and s['src']['with_image'] == 2


def test_cache_follows_raw_content_not_file_times(dbp_root, tmp_path):
    # A fresh copy of the same files (new modification times, as a checkout or `cp` gives) reads the cache;
    # an edit of a raw file with its size and modification time kept builds a new one.
    kw = dict(name_encoder='hash', processed_dir=tmp_path / 'pd', log=False)
    first = DBP15K(dbp_root, 'fr_en', **kw).processed_paths  # computed from the files as they are now
    cached = Path(first[0])
    built_at = cached.stat().st_mtime_ns
    raw = dbp_root / 'DBP15K' / 'fr_en'
    for path in raw.iterdir():
        if path.is_file():
            os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10 ** 9))
    assert DBP15K(dbp_root, 'fr_en', **kw).processed_paths == first and cached.stat().st_mtime_ns == built_at
    triples = raw / 'triples_1'
    text, stat = triples.read_text(), triples.stat()
    edited = text.replace('0', '1', 1)
    assert edited != text and len(edited) == len(text)
    triples.write_text(edited)
    os.utime(triples, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert DBP15K(dbp_root, 'fr_en', **kw).processed_paths != first


def test_image_errors_surface_through_dataset(dbp_root, tmp_path):
    p = tmp_path / 'img.pkl'
    p.write_bytes(pickle.dumps({0: np.ones(4), 1: np.array([np.nan, 0, 0, 0])}))
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + '.*entity id 1.*NaN'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', image_features=p, log=False)
    with pytest.raises(FileNotFoundError, match='image features'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', image_features=tmp_path / 'x.pkl')


def test_missing_raw_file_lists_path_and_purpose(dbp_root):
    (dbp_root / 'DBP15K' / 'fr_en' / 'ill_ent_ids').unlink()
    with pytest.raises(FileNotFoundError) as e:
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)
    assert 'ill_ent_ids' in str(e.value) and 'gold links' in str(e.value)
    with pytest.raises(FileNotFoundError, match='ent_ids_1'):
        DBP15K(dbp_root / 'elsewhere', 'fr_en', name_encoder='hash', log=False)
    assert not (dbp_root / 'elsewhere').exists()  # nothing created
    with pytest.raises(ValueError, match="unknown pair 'de_en'"):
        DBP15K(dbp_root, 'de_en')


def test_bad_raw_content_names_file_and_line(dbp_root):
    folder = dbp_root / 'DBP15K' / 'fr_en'
    with open(folder / 'triples_2', 'a') as f:
        f.write('100\t2000\t7\n')
    with pytest.raises(DataFormatError, match=re.escape(str(folder / 'triples_2')) +
                       r', line 6: tail entity id 7 is not in this KG'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)


def test_name_file_must_cover_entities(dbp_root):
    path = dbp_root / 'DBP15K' / 'translated_ent_name' / 'dbp_fr_en.json'
    names = json.loads(path.read_text())
    path.write_text(json.dumps(names[1:]))
    with pytest.raises(DataFormatError, match=r'no name for entity 0 of KG1 \(line 1 of'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)
    path.write_text(json.dumps(names + [[555, ['x']]]))
    with pytest.raises(DataFormatError, match='entity id 555 is an entity of neither KG'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)


def test_overlapping_global_ids(dbp_root):
    folder = dbp_root / 'DBP15K' / 'fr_en'
    with open(folder / 'ent_ids_2', 'a') as f:
        f.write('3\thttp://dbpedia.org/resource/Dup\n')
    with pytest.raises(DataFormatError, match=r'ent_ids_2, line 6: entity id 3 is also a KG1'):
        DBP15K(dbp_root, 'fr_en', name_encoder='hash', log=False)


def test_srprs_dbp_wd_small(srprs_root):
    data = load_dataset('SRPRS/dbp_wd', srprs_root, name_encoder='hash', log=False)
    assert data['src'].name[:2] == ['E 0', 'E 1'] and data['tgt'].name[0] == 'Label 0'
    assert data['tgt'].uri[0] == 'http://www.wikidata.org/entity/Q100'
    same = data[SAME_AS]
    assert same.train_mask.tolist() == [False, False, True, False]
    assert 'x_attr' not in data['src'] and 'x_attr' not in data['tgt']
    assert 'only training_attrs_1' in data.meta['attributes']
    assert data['src', 'rel', 'src'].relation_info['uri'] == ['http://o/a', 'http://o/b']


def test_srprs_errors(srprs_root):
    folder = srprs_root / 'SRPRS' / 'dbp_wd_15k_V1'
    (folder / 'sup_ent_ids').write_text('0\t100\n4\t105\n')
    with pytest.raises(DataFormatError, match=r'sup_ent_ids, line 2: link to unknown entity: 105'):
        SRPRS(srprs_root, 'dbp_wd', name_encoder='hash', log=False)
    (folder / 'sup_ent_ids').write_text('0\t100\n1\t102\n')
    with pytest.raises(DataFormatError,
                       match=r'sup_ent_ids, line 2: training link 1 -> 102 is not in ref_ent_ids'):
        SRPRS(srprs_root, 'dbp_wd', name_encoder='hash', log=False)
    (folder / 'sup_ent_ids').write_text('0\t100\n')
    (folder / 'rel_ids_2').write_text('2000\thttp://o/a\n2001\thttp://o/b\n')
    with pytest.raises(DataFormatError, match=r'triples_2, line 3: relation id 2002 is not in'):
        SRPRS(srprs_root, 'dbp_wd', name_encoder='hash', log=False)
    with pytest.raises(ValueError, match="unknown set 'fr_en'"):
        SRPRS(srprs_root, 'fr_en')


def test_load_dataset_needs_root(monkeypatch):
    monkeypatch.delenv('PSQE_PYG_DATA', raising=False)
    with pytest.raises(ValueError, match=r'no data root; pass root='):
        load_dataset('DBP15K/zh_en')
