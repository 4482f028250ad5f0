"""Every malformed input raises an error naming the file, the 1-based line and what was expected."""
from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData

from psqe_pyg.pair import PairValidationError, generate_synthetic_pair, validate_pair
from psqe_pyg.readers import (
    DataFormatError,
    load_image_features,
    read_attrs,
    read_entity_ids,
    read_image_dict,
    read_links,
    read_names,
    read_rel_ids,
    read_string_triples,
    read_translated_names,
    read_triples,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path


def where(path, line):
    return re.escape(f'{path}, line {line}:')


@pytest.fixture
def ents(tmp_path):
    e1 = read_entity_ids(
        write(tmp_path, 'ent_ids_1', '0\thttp://a/A\n1\thttp://a/B\n2\thttp://a/C\n'))
    e2 = read_entity_ids(write(tmp_path, 'ent_ids_2', '10\thttp://b/A\n11\thttp://b/B\n'))
    return e1, e2


# ---- entity ids ----------------------------------------------------------------------------
def test_entity_ids_ok_with_crlf_blank_and_no_final_newline(tmp_path):
    p = write(tmp_path, 'ent_ids_1', '5\thttp://x/a b\r\n\n7\thttp://x/c')
    t = read_entity_ids(p)
    assert t.file_id.tolist() == [5, 7] and t.uri == ['http://x/a b', 'http://x/c']
    assert t.index == {5: 0, 7: 1} and t.line == [1, 3]


@pytest.mark.parametrize('text,line,msg', [
    ('0\thttp://a\n1\n', 2, r'expected 2 tab-separated columns \(id<TAB>uri\), got 1'),
    ('0\thttp://a\n1\thttp://b\textra\n', 2, 'expected 2 tab-separated columns'),
    ('0\thttp://a\nx1\thttp://b\n', 2, "expected an integer entity id, got 'x1'"),
    ('0\thttp://a\n-3\thttp://b\n', 2, 'expected a non-negative entity id'),
    ('0\thttp://a\n1\thttp://b\n0\thttp://c\n', 3, r'duplicate entity id 0 \(first on line 1\)'),
])
def test_entity_ids_errors(tmp_path, text, line, msg):
    p = write(tmp_path, 'ent_ids_1', text)
    with pytest.raises(DataFormatError, match=where(p, line) + '.*' + msg) as e:
        read_entity_ids(p)
    assert e.value.line == line and e.value.path == str(p)


def test_entity_ids_empty_file(tmp_path):
    p = write(tmp_path, 'ent_ids_1', '\n')
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + '.*no entities'):
        read_entity_ids(p)


def test_missing_file_names_path_and_purpose(tmp_path):
    p = tmp_path / 'nope' / 'ent_ids_1'
    with pytest.raises(FileNotFoundError, match=re.escape(str(p)) + '.*expected the entity ids'):
        read_entity_ids(p)
    with pytest.raises(FileNotFoundError, match='relation triples'):
        read_triples(tmp_path / 'triples_1')
    with pytest.raises(FileNotFoundError, match='image features'):
        read_image_dict(tmp_path / 'img.pkl')
    with pytest.raises(FileNotFoundError, match='is a directory'):
        read_links(tmp_path)


# ---- triples -------------------------------------------------------------------------------
def test_triples_ok(tmp_path, ents):
    p = write(tmp_path, 'triples_1', '0\t5\t1\n2\t6\t0\n')
    t = read_triples(p, ents[0])
    assert t.tolist() == [[0, 5, 1], [2, 6, 0]]
    # same content through the slow path (a blank line disables the fast path)
    p2 = write(tmp_path, 'triples_1b', '0\t5\t1\n\n2\t6\t0\n')
    assert torch.equal(read_triples(p2, ents[0]), t)
    assert read_triples(write(tmp_path, 'empty', '')).shape == (0, 3)


@pytest.mark.parametrize('text,line,msg', [
    ('0\t5\t1\n0\t5\n', 2,
     r'expected 3 tab-separated columns \(head<TAB>relation<TAB>tail\), got 2'),
    ('0\t5\t1\n0 5 1\n', 2, 'expected 3 tab-separated columns'),
    ('0\t5\t1\n0\tr5\t1\n', 2, "expected an integer relation id, got 'r5'"),
    ('0\t5\t1\n1\t5\t2\n0\t5\t1.5\n', 3, "expected an integer tail entity id, got '1.5'"),
    ('0\t5\t1\n10\t5\t1\n', 2, r'head entity id 10 is not in this KG\'s entity ids'),
    ('0\t5\t1\n0\t5\t99\n', 2, r'tail entity id 99 is not in this KG\'s entity ids'),
])
def test_triples_errors(tmp_path, ents, text, line, msg):
    p = write(tmp_path, 'triples_1', text)
    with pytest.raises(DataFormatError, match=where(p, line) + '.*' + msg):
        read_triples(p, ents[0])


def test_triples_relation_not_in_rel_ids(tmp_path, ents):
    rel = read_rel_ids(write(tmp_path, 'rel_ids_1', '5\thttp://r/a\n6\thttp://r/b\n'))
    assert rel == {5: 'http://r/a', 6: 'http://r/b'}
    p = write(tmp_path, 'triples_1', '0\t5\t1\n1\t6\t2\n2\t7\t0\n')
    with pytest.raises(DataFormatError, match=where(p, 3) + ".*relation id 7 is not in this KG"):
        read_triples(p, ents[0], rel)


def test_rel_ids_duplicate(tmp_path):
    p = write(tmp_path, 'rel_ids_1', '5\thttp://r/a\n5\thttp://r/b\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + '.*duplicate relation id 5'):
        read_rel_ids(p)


# ---- links ---------------------------------------------------------------------------------
def test_links_ok(tmp_path, ents):
    links, lines = read_links(write(tmp_path, 'ill', '0\t10\n\n1\t11\n'), *ents, with_lines=True)
    assert links.tolist() == [[0, 10], [1, 11]] and lines == [1, 3]


@pytest.mark.parametrize('text,line,msg', [
    ('0\t10\n5\t11\n', 2, 'link to unknown entity: 5 is not a KG1 entity id'),
    ('0\t10\n1\t12\n', 2, 'link to unknown entity: 12 is not a KG2 entity id'),
    ('0\t10\n0\t10\n', 2, r'duplicate link 0 -> 10 \(first on line 1\)'),
    ('0\t10\n0\t11\n', 2, 'KG1 entity 0 is linked twice'),
    ('0\t10\n1\t10\n', 2, 'KG2 entity 10 is linked twice'),
    ('0\t10\n1\t11\t2\n', 2, r'expected 2 tab-separated columns \(id1<TAB>id2\), got 3'),
    ('0\t10\n1\tx\n', 2, "expected an integer KG2 entity id, got 'x'"),
])
def test_links_errors(tmp_path, ents, text, line, msg):
    p = write(tmp_path, 'ill_ent_ids', text)
    with pytest.raises(DataFormatError, match=where(p, line) + '.*' + msg):
        read_links(p, *ents)


def test_links_many_to_one_allowed_when_asked(tmp_path, ents):
    p = write(tmp_path, 'ill', '0\t10\n1\t10\n')
    assert read_links(p, *ents, one_to_one=False).shape == (2, 2)


# ---- attributes ----------------------------------------------------------------------------
def test_attrs_ok_and_errors(tmp_path, ents):
    e1 = ents[0]
    attrs = read_attrs(write(tmp_path, 'training_attrs_1',
                             'http://a/B\thttp://o/p1\thttp://o/p2\nhttp://a/A\thttp://o/p1\n'), e1)
    assert attrs == [['http://o/p1'], ['http://o/p1', 'http://o/p2'], []]
    p = write(tmp_path, 'bad1', 'http://a/A\tp\nhttp://a/Z\tp\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + ".*'http://a/Z' is not in this KG"):
        read_attrs(p, e1)
    p = write(tmp_path, 'bad2', 'http://a/A\tp\nhttp://a/A\tq\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r'.*listed twice \(first on line 1\)'):
        read_attrs(p, e1)
    p = write(tmp_path, 'bad3', 'http://a/A\tp\t\tq\n')
    with pytest.raises(DataFormatError, match=where(p, 1) + '.*empty attribute name in column 3'):
        read_attrs(p, e1)


# ---- translated names ----------------------------------------------------------------------
def test_translated_names(tmp_path):
    p = write(tmp_path, 'n.json', '[[0, ["a", "b"]], [10, []]]')
    assert read_translated_names(p) == {0: ['a', 'b'], 10: []}
    p = write(tmp_path, 'bad.json', '[[0, ["a"]],\n [1, ["b"]\n')
    with pytest.raises(DataFormatError, match=where(p, 3) + '.*invalid JSON'):
        read_translated_names(p)
    for text, msg in [('{"0": ["a"]}', 'expected a JSON list'),
                      ('[[0, ["a"]], ["x", ["b"]]]', 'entry 1 .*non-negative integer id'),
                      ('[[0, ["a"]], [1, "b"]]', 'entry 1 .*list of string tokens'),
                      ('[[0, ["a"]], [0, ["b"]]]', 'entry 1 .*duplicate entity id 0'),
                      ('[[0, ["a"], 3]]', r'entry 0 .*expected \[global_id')]:
        p = write(tmp_path, 'bad.json', text)
        with pytest.raises(DataFormatError, match=re.escape(str(p)) + '.*' + msg):
            read_translated_names(p)


# ---- image pickles -------------------------------------------------------------------------
def dump(tmp_path, obj, name='img.pkl'):
    p = tmp_path / name
    with open(p, 'wb') as f:
        pickle.dump(obj, f)
    return p


def test_image_pickle_ok_numpy_and_lists(tmp_path, ents):
    rng = np.random.default_rng(0)
    vecs = {0: rng.normal(size=8).astype(np.float32), 2: rng.normal(size=8), 11: list(range(8)),
            np.int64(10): rng.normal(size=(1, 8))}
    p = dump(tmp_path, vecs)
    d = read_image_dict(p)
    assert set(d) == {0, 2, 10, 11} and all(v.dtype == np.float32 and v.shape == (8, )
                                            for v in d.values())
    xs, ms, xt, mt = load_image_features(p, ents[0].file_id, ents[1].file_id)
    assert ms.tolist() == [True, False, True] and mt.tolist() == [True, True]
    assert xs.shape == (3, 8) and bool((xs[1] == 0).all())
    assert torch.allclose(xs[0], torch.from_numpy(vecs[0]))
    assert xt[1].tolist() == [float(i) for i in range(8)]
    # one file per side
    p1, p2 = dump(tmp_path, {1: [1.0] * 8}, 'a.pkl'), dump(tmp_path, {11: [2.0] * 8}, 'b.pkl')
    xs, ms, xt, mt = load_image_features([p1, p2], ents[0].file_id, ents[1].file_id)
    assert ms.tolist() == [False, True, False] and mt.tolist() == [False, True]


@pytest.mark.parametrize('obj,msg', [
    ({0: np.ones(4), 1: np.array([1.0, np.nan, 0, 0])}, 'entity id 1: vector contains NaN'),
    ({0: np.ones(4), 1: np.array([1.0, np.inf, 0, 0])}, 'entity id 1: vector contains infinite'),
    ({0: np.ones(4), 2: np.ones(5)}, r'entity id 2: wrong vector length 5 \(expected 4'),
    ({0: np.ones(4), 1: np.ones((2, 2))}, r'entity id 1: expected a 1-D numeric vector'),
    ({0: np.ones(4), 1: ['a', 'b', 'c', 'd']}, 'entity id 1: expected a 1-D numeric vector'),
    ({'e0': np.ones(4)}, "key 'e0': expected a non-negative integer entity id"),
    ([np.ones(4)], r'expected a dict \{global_entity_id: vector\}, got list'),
    ({}, r'no image vectors'),
])
def test_image_pickle_errors(tmp_path, obj, msg):
    p = dump(tmp_path, obj)
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + ': ' + msg):
        read_image_dict(p)


def test_image_pickle_dim_and_unknown_ids(tmp_path, ents):
    p = dump(tmp_path, {0: np.ones(4)})
    with pytest.raises(DataFormatError, match='wrong vector length 4 \\(expected 6'):
        read_image_dict(p, dim=6)
    p = dump(tmp_path, {0: np.ones(4), 99: np.ones(4)})
    with pytest.raises(DataFormatError, match='entity id 99 is not an entity of either KG'):
        load_image_features(p, ents[0].file_id, ents[1].file_id)
    xs, ms, _, _ = load_image_features(p, ents[0].file_id, ents[1].file_id, allow_unknown=True)
    assert ms.tolist() == [True, False, False]
    # wrong length between the two files of a pair
    p1, p2 = dump(tmp_path, {0: np.ones(4)}, 'a.pkl'), dump(tmp_path, {10: np.ones(3)}, 'b.pkl')
    with pytest.raises(DataFormatError, match=re.escape(str(p2)) + '.*wrong vector length 3'):
        load_image_features([p1, p2], ents[0].file_id, ents[1].file_id)


class _Evil:
    def __reduce__(self):
        return (print, ('pwned', ))


def test_image_pickle_refuses_code(tmp_path):
    p = dump(tmp_path, {0: _Evil()})
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + '.*refusing to load'):
        read_image_dict(p)
    (tmp_path / 'junk.pkl').write_bytes(b'not a pickle at all')
    with pytest.raises(DataFormatError, match='not a readable pickle'):
        read_image_dict(tmp_path / 'junk.pkl')


# ---- validate_pair -------------------------------------------------------------------------
@pytest.fixture(scope='module')
def pair():
    return generate_synthetic_pair(num_entities=60, seed=3)


def _broken(pair, fn):
    data = pair.clone()
    fn(data)
    return data


@pytest.mark.parametrize('fn,msg', [
    (lambda d: d['src'].x_img.__setitem__((int(d['src'].img_mask.nonzero()[0]), 0),
                                          float('nan')), r"data\['src'\].x_img: contains NaN"),
    (lambda d: d['tgt'].x_name.__setitem__((0, 0), float('inf')),
     r"data\['tgt'\].x_name: contains infinite"),
    (lambda d: setattr(d['src'], 'x_attr', d['src'].x_attr.to_dense()[:-1]),
     r"data\['src'\].x_attr: expected size \d+ in dimension 0"),
    (lambda d: setattr(d['src'], 'x_rel', d['src'].x_rel.long()),
     r"data\['src'\].x_rel: expected a floating-point tensor"),
    (lambda d: setattr(d['tgt'], 'img_mask', d['tgt'].img_mask.long()),
     r"data\['tgt'\].img_mask: expected torch.bool"),
    (lambda d: d['tgt'].x_img.__setitem__((int((~d['tgt'].img_mask).nonzero()[0]), 0), 1.0),
     r"data\['tgt'\].x_img: row \d+ is non-zero but img_mask is False"),
    (lambda d: d['src', 'rel', 'src'].edge_index.__setitem__((0, 0), 10**6),
     r"data\('src', 'rel', 'src'\).edge_index: index out of range"),
    (lambda d: setattr(d['src', 'rel', 'src'], 'edge_type',
                       d['src', 'rel', 'src'].edge_type[:-1]),
     r"data\('src', 'rel', 'src'\).edge_type: expected size"),
    (lambda d: d['tgt', 'rel', 'tgt'].edge_type.__setitem__(0, 999),
     r"data\('tgt', 'rel', 'tgt'\).edge_type: index out of range.*num_relations = 40"),
    (lambda d: setattr(d['src', 'rel', 'src'], 'edge_index', torch.empty(2, 0, dtype=torch.long)),
     r"edge_index: empty graph"),
    (lambda d: d['src', 'same_as', 'tgt'].edge_index.__setitem__((1, 0), -1),
     r"data\('src', 'same_as', 'tgt'\).edge_index\[1\]: index out of range"),
    (lambda d: setattr(d['src', 'same_as', 'tgt'], 'test_mask',
                       torch.ones_like(d['src', 'same_as', 'tgt'].test_mask)),
     'test_mask: overlaps train_mask'),
    (lambda d: setattr(d['src'], 'name', d['src'].name[:-1]),
     r"data\['src'\].name: expected \d+ entries"),
    (lambda d: delattr(d['src'], 'img_mask'), r"data\['src'\].img_mask: missing"),
    (lambda d: setattr(d['src'], 'file_id', d['src'].file_id.int()),
     r"data\['src'\].file_id: expected torch.long"),
])
def test_validate_pair_names_the_tensor(pair, fn, msg):
    validate_pair(pair)
    with pytest.raises(PairValidationError, match=msg):
        validate_pair(_broken(pair, fn))


def test_validate_pair_structure():
    with pytest.raises(PairValidationError, match='expected a torch_geometric.data.HeteroData'):
        validate_pair({'src': 1})
    data = HeteroData()
    data['src'].num_nodes = 3
    with pytest.raises(PairValidationError, match=r"data\['tgt'\]: missing node type"):
        validate_pair(data)
    data['tgt'].num_nodes = 0
    with pytest.raises(PairValidationError, match=r"data\['tgt'\]: empty graph"):
        validate_pair(data)
    data['tgt'].num_nodes = 2
    with pytest.raises(PairValidationError, match='missing relation edges'):
        validate_pair(data)
    validate_pair(data, require_edges=False)
    with pytest.raises(PairValidationError, match='missing gold links'):
        validate_pair(data, require_edges=False, require_links=True)


# ---- text encoding, OpenEA readers, folders -----------------------------------------------
def test_binary_and_non_utf8_files_name_the_line(tmp_path, ents):
    p = tmp_path / 'triples_1'
    p.write_bytes(b'0\t1\t1\n1\x00\x00\t2\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + ' binary data'):
        read_triples(p)
    p.write_bytes(b'0\thttp://a\n1\thttp://\xe9t\xe9\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r" not valid UTF-8 text \(byte b'\\xe9'"):
        read_entity_ids(p)
    p.write_bytes('\ufeff0\thttp://a\n'.encode('utf-8'))  # a byte-order mark is not part of the id
    assert read_entity_ids(p).file_id.tolist() == [0]


def test_string_triples(tmp_path):
    p = write(tmp_path, 'rel_triples_1', 'a\tr\tb\n\nb\tr\ta\n')
    rows, lines = read_string_triples(p)
    assert rows == [('a', 'r', 'b'), ('b', 'r', 'a')] and lines == [1, 3]
    p = write(tmp_path, 'rel_triples_1', 'a\tr\tb\na\tr\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r' expected 3 tab-separated columns '
                       r'\(head<TAB>relation<TAB>tail\), got 2'):
        read_string_triples(p)
    p = write(tmp_path, 'attr_triples_1', 'a\t\t5\n')
    with pytest.raises(DataFormatError, match=where(p, 1) + ' empty attribute in column 2'):
        read_string_triples(p, ('entity', 'attribute', 'value'), allow_empty_last=True)


def test_links_by_entity_string(tmp_path):
    src = read_entity_ids(write(tmp_path, 'ent_ids_1', '0\tA\n1\tB\n'))
    tgt = read_entity_ids(write(tmp_path, 'ent_ids_2', '5\ta\n6\tb\n'))
    p = write(tmp_path, 'ent_links', 'B\tb\nA\ta\n')
    assert read_links(p, src, tgt, by='uri').tolist() == [[1, 6], [0, 5]]
    p = write(tmp_path, 'ent_links', 'A\ta\nC\tb\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r" link to unknown entity: 'C' is not a "
                       'KG1 entity'):
        read_links(p, src, tgt, by='uri')
    p = write(tmp_path, 'ent_links', 'A\ta\nA\ta\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r' duplicate link A -> a \(first on '
                       r'line 1\)'):
        read_links(p, src, tgt, by='uri')


def test_name_files(tmp_path, ents):
    e1, _ = ents
    p = write(tmp_path, 'ent_names_1', '0\tAlpha\n2\tGamma\n')
    assert read_names(p, e1) == {0: 'Alpha', 2: 'Gamma'}
    p = write(tmp_path, 'ent_names_1', '0\tAlpha\n7\tEta\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + " entity '7' is not an entity of this KG"):
        read_names(p, e1)
    p = write(tmp_path, 'ent_names_1', '0\tAlpha\n0\tAlpha\n')
    with pytest.raises(DataFormatError, match=where(p, 2) + r" entity '0' named twice \(first on "
                       r'line 1\)'):
        read_names(p, e1)


def _openea(folder, triples2='x\tr\ty\n'):
    folder.mkdir(exist_ok=True)
    (folder / 'rel_triples_1').write_text('a\tr\tb\n')
    (folder / 'rel_triples_2').write_text(triples2)
    return folder


def test_folder_that_matches_no_layout_lists_the_layouts(tmp_path):
    from psqe_pyg.datasets import load_dataset
    (tmp_path / 'rel_triples_1').write_text('a\tr\tb\n')
    with pytest.raises(FileNotFoundError, match=r'matches no KG-pair layout. Looked for:\n  openea: '
                       r'needs rel_triples_1, rel_triples_2 \(missing: rel_triples_2\).*\n  ids: '
                       r'needs ent_ids_1, ent_ids_2, triples_1, triples_2'):
        load_dataset(str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown dataset .*nowhere' \(and no such folder\); valid: "):
        load_dataset(str(tmp_path / 'nowhere'))
    with pytest.raises(FileNotFoundError, match='not a folder'):
        load_dataset(str(tmp_path / 'rel_triples_1'))
    _openea(tmp_path)
    for name in ('ent_ids_1', 'ent_ids_2', 'triples_1', 'triples_2'):
        (tmp_path / name).write_text('')
    with pytest.raises(ValueError, match='holds the files of both the OpenEA layout'):
        load_dataset(str(tmp_path))


def test_empty_kg_and_unknown_link_entity_in_a_folder(tmp_path):
    from psqe_pyg.datasets import load_dataset
    folder = _openea(tmp_path / 'pair', triples2='\n')
    with pytest.raises(DataFormatError, match=re.escape(f'{folder / "rel_triples_2"}: empty KG: no '
                                                        'relation triples')):
        load_dataset(str(folder), name_encoder='hash', log=False)
    _openea(folder)
    (folder / 'ent_links').write_text('a\tx\nb\tz\n')
    with pytest.raises(DataFormatError, match=where(folder / 'ent_links', 2) + r" link to unknown "
                       r"entity: 'z' is not a KG2 entity \(it is in no line of .*rel_triples_2\)"):
        load_dataset(str(folder), name_encoder='hash', log=False)
    ids = tmp_path / 'ids'
    ids.mkdir()
    for name, text in (('ent_ids_1', '0\ta\n'), ('ent_ids_2', '1\tb\n'), ('triples_1', '0\t0\t0\n'),
                       ('triples_2', '')):
        (ids / name).write_text(text)
    with pytest.raises(DataFormatError, match=re.escape(f'{ids / "triples_2"}: empty KG')):
        load_dataset(str(ids), name_encoder='hash', log=False)
