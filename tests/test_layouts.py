"""Your own KG pair from a folder: the OpenEA layout, the id layout, names, splits, missing links."""
from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from psqe_pyg.datasets import KGPairFolder, load_dataset
from psqe_pyg.pair import SAME_AS, random_split_masks
from psqe_pyg.readers import detect_layout

EXAMPLE = Path(__file__).resolve().parents[1] / 'examples' / 'europe_en_fr'
E1, E2 = 'http://en.org/resource/', 'http://fr.org/resource/'


def write(folder: Path, name: str, rows) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join('\t'.join(map(str, r)) + '\n' for r in rows), encoding='utf-8')
    return path


def openea(folder: Path, *, links=True, attrs=False) -> Path:
    """KG1: 6 entities (one dangling: F), KG2: 5 (one dangling: Z); links A..D."""
    write(folder, 'rel_triples_1', [(E1 + 'A', 'r:p', E1 + 'B'), (E1 + 'B', 'r:q', E1 + 'C'),
                                    (E1 + 'C', 'r:p', E1 + 'D'), (E1 + 'D', 'r:p', E1 + 'Caf%C3%A9_X'),
                                    (E1 + 'F', 'r:q', E1 + 'A')])
    write(folder, 'rel_triples_2', [(E2 + 'b', 's:p', E2 + 'a'), (E2 + 'c', 's:p', E2 + 'b'),
                                    (E2 + 'd', 's:q', E2 + 'c'), (E2 + 'Z', 's:p', E2 + 'd')])
    if links:
        write(folder, 'ent_links', [(E1 + x, E2 + x.lower()) for x in 'ABCD'])
    if attrs:
        write(folder, 'attr_triples_1', [(E1 + 'A', 'http://o/population', '2148000'),
                                         (E1 + 'B', 'http://o/motto', '')])
        write(folder, 'attr_triples_2', [(E2 + 'a', 'http://p/population', '2148000'),
                                         (E2 + 'Y', 'http://p/area', '105 km2')])
    return folder


def load(folder, **kw):
    return load_dataset(str(folder), name_encoder='hash', log=False, **kw)


# ---- OpenEA layout ----------------------------------------------------------------------------
def test_openea_without_attributes(tmp_path):
    data = load(openea(tmp_path / 'pair'))
    assert detect_layout(tmp_path / 'pair') == 'openea'
    src, tgt = data['src'], data['tgt']
    assert (src.num_nodes, tgt.num_nodes) == (6, 5)  # unequal sizes, dangling F / Z
    assert src.uri[:3] == [E1 + 'A', E1 + 'B', E1 + 'C']  # order of first appearance
    assert src.name[4] == 'Café X'  # URI local name, URL-decoded, '_' as space
    assert tgt.uri == [E2 + x for x in ('b', 'a', 'c', 'd', 'Z')]
    assert data['src', 'rel', 'src'].relation_info['uri'] == ['r:p', 'r:q']
    assert data['src', 'rel', 'src'].edge_type.tolist() == [0, 1, 0, 0, 1]
    same = data[SAME_AS]
    assert same.edge_index.tolist() == [[0, 1, 2, 3], [1, 0, 2, 3]]
    train, _ = random_split_masks(4, 0.3, 0)
    assert torch.equal(same.train_mask, train) and torch.equal(same.test_mask, ~train)
    assert 'x_attr' not in src and data.meta['layout'] == 'openea'
    assert src.file_id.tolist() == list(range(6)) and tgt.file_id.tolist() == list(range(6, 11))


def test_openea_attributes_use_names_and_values(tmp_path):
    data = load(openea(tmp_path / 'pair', attrs=True))
    src, tgt = data['src'], data['tgt']
    assert tgt.num_nodes == 6 and tgt.uri[-1] == E2 + 'Y'  # an entity only in attr_triples
    vocab_size = data.meta['attr_vocab_size']
    assert src.x_attr.shape == tgt.x_attr.shape == (6, vocab_size)
    assert src.x_attr.layout == torch.sparse_coo  # a bag: never densified
    xa_src, xa_tgt = src.x_attr.to_dense(), tgt.x_attr.to_dense()
    # A (KG1) and a (KG2) share the attribute 'population' and the value token '2148000'
    shared = (xa_src[0] > 0) & (xa_tgt[1] > 0)
    assert int(shared.sum()) == 2
    assert int(xa_src[1].sum()) == 1  # 'motto' with an empty value: the name only
    assert int(xa_tgt[-1].sum()) == 3  # 'area' + value tokens '105', 'km2'
    assert 'names + hashed value tokens' in data.meta['attributes']


def test_openea_one_attribute_file_gives_no_x_attr(tmp_path):
    folder = openea(tmp_path / 'pair', attrs=True)
    (folder / 'attr_triples_2').unlink()
    data = load(folder)
    assert 'x_attr' not in data['src'] and 'only attr_triples_1' in data.meta['attributes']


def test_names_files_with_uri_fallback(tmp_path):
    folder = openea(tmp_path / 'pair')
    write(folder, 'ent_names_1', [(E1 + 'A', 'Alpha'), (E1 + 'B', 'Beta')])
    write(folder, 'ent_names_2', [(E2 + 'a', 'Alphe')])
    data = load(folder)
    assert data['src'].name[:3] == ['Alpha', 'Beta', 'C']
    assert data['tgt'].name[:2] == ['b', 'Alphe']
    assert data.meta['names_from_uri'] == 4 + 4


def test_folds(tmp_path):
    folder = openea(tmp_path / 'pair')
    for k, (train, valid, test) in {1: ('A', 'B', 'CD'), 2: ('CD', '', 'AB')}.items():
        for part, xs in (('train', train), ('valid', valid), ('test', test)):
            write(folder, f'721_5fold/{k}/{part}_links', [(E1 + x, E2 + x.lower()) for x in xs])
    same = load(folder)[SAME_AS]  # default: the lowest fold
    assert same.train_mask.tolist() == [True, True, False, False]
    assert same.test_mask.tolist() == [False, False, True, True]
    same = load(folder, fold=2)[SAME_AS]
    assert same.train_mask.tolist() == [False, False, True, True]
    with pytest.raises(FileNotFoundError, match=r'no such fold \(folds present: \[1, 2\]\)'):
        load(folder, fold=3)
    (folder / 'ent_links').unlink()  # the fold files are then the links, train first
    data = load(folder, fold=1)
    assert data[SAME_AS].edge_index[0].tolist() == [0, 1, 2, 3]
    assert data[SAME_AS].train_mask.tolist() == [True, True, False, False]


def test_fold_link_outside_ent_links(tmp_path):
    folder = openea(tmp_path / 'pair')
    write(folder, 'ent_links', [(E1 + 'A', E2 + 'a')])
    path = write(folder, '721_5fold/1/train_links', [(E1 + 'A', E2 + 'a'), (E1 + 'B', E2 + 'b')])
    write(folder, '721_5fold/1/test_links', [])
    with pytest.raises(ValueError, match=rf'{path}, line 2: link .* is not in ent_links'):
        load(folder)


@pytest.mark.parametrize('empty', [False, True])
def test_no_gold_links(tmp_path, caplog, empty):
    folder = openea(tmp_path / 'pair', links=False)
    if empty:
        write(folder, 'ent_links', [])
    with caplog.at_level(logging.WARNING, logger='psqe_pyg'):
        data = load(folder)
    assert SAME_AS not in data.edge_types
    said = [r for r in caplog.records if 'evaluation will be skipped' in r.getMessage()]
    assert len(said) == 1
    assert data.meta['split'] == 'none (no gold links)'
    assert data.meta['links'] == ('none (ent_links is empty)' if empty else 'none (no ent_links)')


def test_blank_lines_and_self_loops_are_counted(tmp_path):
    folder = openea(tmp_path / 'pair')
    path = folder / 'rel_triples_2'
    path.write_text(path.read_text() + '\n' + f'{E2}a\ts:p\t{E2}a\n\n')
    data = load(folder)
    assert data.meta['blank_lines_skipped'] == {'rel_triples_2': 2}
    assert data.meta['self_loops_kept'] == {'rel_triples_2': 1}
    assert data['tgt', 'rel', 'tgt'].edge_index.size(1) == 5  # the self-loop is kept


# ---- id layout --------------------------------------------------------------------------------
def ids(folder: Path, *, offset2=100) -> Path:
    """KG1 ids 0..4, KG2 ids offset2..offset2+3 (offset2=0: the same numbers as KG1)."""
    write(folder, 'ent_ids_1', [(i, f'{E1}E_{i}') for i in range(5)])
    write(folder, 'ent_ids_2', [(offset2 + i, f'{E2}e_{i}') for i in range(4)])
    write(folder, 'triples_1', [(i, 7, (i + 1) % 5) for i in range(5)])
    write(folder, 'triples_2', [(offset2 + i, 9, offset2 + (i + 1) % 4) for i in range(4)])
    return folder


def test_id_layout_ill_ent_ids_with_overlapping_ids(tmp_path):
    folder = ids(tmp_path / 'pair', offset2=0)
    write(folder, 'ill_ent_ids', [(3, 0), (1, 2), (0, 3)])
    write(folder, 'ent_names_2', [(2, 'Deux')])
    data = load(folder)
    assert detect_layout(folder) == 'ids' and data.meta['links'] == 'ill_ent_ids'
    assert data['src'].file_id.tolist() == [0, 1, 2, 3, 4]
    assert data['tgt'].file_id.tolist() == [0, 1, 2, 3]
    assert data[SAME_AS].edge_index.tolist() == [[3, 1, 0], [0, 2, 3]]
    assert data['tgt'].name == ['e 0', 'e 1', 'Deux', 'e 3']
    assert data['src', 'rel', 'src'].num_relations == 1


def test_id_layout_ref_pairs_and_sup_pairs_jape_style(tmp_path):
    folder = ids(tmp_path / 'pair')
    write(folder, 'ref_pairs', [(2, 102), (3, 103)])
    write(folder, 'sup_pairs', [(0, 100)])
    same = load(folder)[SAME_AS]
    assert same.edge_index.tolist() == [[0, 2, 3], [0, 2, 3]]  # sup first, then ref
    assert same.train_mask.tolist() == [True, False, False]
    assert same.test_mask.tolist() == [False, True, True]


def test_id_layout_ref_ent_ids_with_sup_inside_rsn_style(tmp_path):
    folder = ids(tmp_path / 'pair')
    write(folder, 'rel_ids_1', [(7, 'http://o/next')])
    write(folder, 'rel_ids_2', [(9, 'http://p/next')])
    write(folder, 'ref_ent_ids', [(0, 100), (1, 101), (2, 102)])
    write(folder, 'sup_ent_ids', [(1, 101)])
    data = load(folder)
    assert data[SAME_AS].train_mask.tolist() == [False, True, False]
    assert data['tgt', 'rel', 'tgt'].relation_info['uri'] == ['http://p/next']


def test_id_layout_link_file_errors(tmp_path):
    folder = ids(tmp_path / 'pair')
    ref = write(folder, 'ref_ent_ids', [])
    write(folder, 'sup_ent_ids', [(0, 100)])
    with pytest.raises(ValueError, match=rf'^{ref}: no links, but sup_ent_ids has 1 training'):
        load(folder)
    write(folder, 'ref_ent_ids', [(0, 100), (1, 101)])
    sup = write(folder, 'sup_ent_ids', [(0, 100), (2, 102)])
    with pytest.raises(ValueError, match=rf'{sup}, line 2: training link 2 -> 102 is not in '
                       r'ref_ent_ids, unlike line 1'):
        load(folder)
    write(folder, 'sup_ent_ids', [(0, 102)])
    with pytest.raises(ValueError, match=rf'{sup}, line 1: KG1 entity 0 is also linked on line 1'):
        load(folder)
    ref.unlink()
    with pytest.raises(ValueError, match=rf'{sup}: training links without the reference links: '
                       'ref_ent_ids is missing'):
        load(folder)


def test_one_image_pickle_needs_disjoint_ids(tmp_path):
    folder = ids(tmp_path / 'pair', offset2=0)
    one = tmp_path / 'img.pkl'
    one.write_bytes(pickle.dumps({0: np.ones(4)}))
    with pytest.raises(ValueError, match=r'ent_ids_2, line 1: entity id 0 is also a KG1 entity id'
                       r'.*must be disjoint for one image file keyed by global id'):
        load(folder, image_features=one)
    two = tmp_path / 'img2.pkl'
    two.write_bytes(pickle.dumps({3: np.full(4, 2.0)}))
    data = load(folder, image_features=(one, two))
    assert data['src'].img_mask.tolist() == [True, False, False, False, False]
    assert data['tgt'].img_mask.tolist() == [False, False, False, True]


def test_load_dataset_accepts_path_objects_and_cli_info(tmp_path, capsys):
    import json

    from psqe_pyg.cli import main
    folder = openea(tmp_path / 'pair')
    data = load_dataset(folder, name_encoder='hash', log=False)
    assert data['src'].num_nodes == 6
    assert main(['info', '--json', '--dataset', str(folder), '--name-encoder', 'hash']) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['links']['total'] == 4 and out['tgt']['entities'] == 5


def test_processed_cache_lives_in_psqe_pyg_cache(tmp_path, psqe_cache_dir):
    folder = openea(tmp_path / 'pair')
    ds = KGPairFolder(folder, name_encoder='hash', log=False)
    assert Path(ds.processed_paths[0]).is_file()
    assert Path(ds.processed_paths[0]).is_relative_to(psqe_cache_dir / 'folder')
    assert not (folder / 'processed').exists()


def test_example_pair_loads():
    data = load(EXAMPLE)
    assert (data['src'].num_nodes, data['tgt'].num_nodes) == (40, 40)
    assert data[SAME_AS].edge_index.size(1) == 36  # 4 dangling entities a side
    assert data['tgt'].name[data['tgt'].uri.index('http://fr.dbpedia.org/resource/Lisbonne')] == \
        'Lisbonne'
    assert 'x_attr' in data['src']


def test_srprs_dbp_yg_names_from_uris(tmp_path):
    folder = ids(tmp_path / 'SRPRS' / 'dbp_yg_15k_V1')
    write(folder, 'ent_ids_2', [(100 + i, f'http://yago-knowledge.org/resource/Y_{i}') for i in range(4)])
    write(folder, 'rel_ids_1', [(7, 'http://o/next')])
    write(folder, 'rel_ids_2', [(9, 'http://y/next')])
    write(folder, 'ref_ent_ids', [(0, 100), (1, 101)])
    write(folder, 'sup_ent_ids', [(1, 101)])
    data = load_dataset('SRPRS/dbp_yg', tmp_path, name_encoder='hash', log=False)
    assert data['src'].name[0] == 'E 0' and data['tgt'].name[:2] == ['Y 0', 'Y 1']
    assert data[SAME_AS].train_mask.tolist() == [False, True]
    assert data.meta['dataset'] == 'SRPRS/dbp_yg'


def test_fold_files_without_ent_links_must_be_one_to_one(tmp_path):
    folder = openea(tmp_path / 'pair', links=False)
    write(folder, '721_5fold/1/train_links', [(E1 + 'A', E2 + 'a')])
    test = write(folder, '721_5fold/1/test_links', [(E1 + 'B', E2 + 'b'), (E1 + 'A', E2 + 'c')])
    with pytest.raises(ValueError, match=rf"{test}, line 2: KG1 entity '{E1}A' is also linked in "
                       'train_links'):
        load(folder)
    write(folder, 'ent_links', [(E1 + 'A', E2 + 'a'), (E1 + 'B', E2 + 'b')])
    write(folder, '721_5fold/1/test_links', [(E1 + 'B', E2 + 'b'), (E1 + 'A', E2 + 'a')])
    with pytest.raises(ValueError, match=rf"{test}, line 2: link .* is also in train_links"):
        load(folder)
