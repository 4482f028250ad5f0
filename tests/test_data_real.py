"""The six public benchmark pairs load with exactly the counts of ../shared/data/MANIFEST.md."""
from __future__ import annotations

import json

import pytest
import torch

from psqe_pyg.datasets import DBP15K, SRPRS, dataset_summary, load_dataset
from psqe_pyg.pair import REL, SAME_AS, validate_pair

pytestmark = pytest.mark.data

# spec: (entities src/tgt, triples src/tgt, relations src/tgt, links, train)
EXPECTED = {
    'DBP15K/zh_en': ((19388, 19572), (70414, 95142), (1701, 1323), 15000, 4500),
    'DBP15K/ja_en': ((19814, 19780), (77214, 93484), (1299, 1153), 15000, 4500),
    'DBP15K/fr_en': ((19661, 19993), (105998, 115722), (903, 1208), 15000, 4500),
    'SRPRS/en_fr': ((15000, 15000), (36508, 33532), (221, 177), 15000, 4500),
    'SRPRS/en_de': ((15000, 15000), (38363, 37377), (222, 120), 15000, 4500),
    'SRPRS/dbp_wd': ((15000, 15000), (38421, 40159), (253, 144), 15000, 4500),
}

_LOADED: dict[str, object] = {}


@pytest.fixture(scope='session')
def real(shared_data):
    """spec -> HeteroData, each real pair loaded once per session with the hash encoder."""

    def get(spec: str):
        if spec not in _LOADED:
            _LOADED[spec] = load_dataset(spec, shared_data, name_encoder='hash', log=False)
        return _LOADED[spec]

    return get


@pytest.mark.parametrize('spec', list(EXPECTED))
def test_counts_match_manifest(real, spec):
    data = real(spec)
    (n1, n2), (e1, e2), (r1, r2), links, train = EXPECTED[spec]
    s = dataset_summary(data)
    assert (s['src']['entities'], s['tgt']['entities']) == (n1, n2)
    assert (s['src']['relation_triples'], s['tgt']['relation_triples']) == (e1, e2)
    assert (s['src']['relations'], s['tgt']['relations']) == (r1, r2)
    assert s['links'] == {'total': links, 'train': train, 'test': links - train}
    validate_pair(data, require_links=True)
    for side in ('src', 'tgt'):
        store = data[side]
        assert store.x_name.shape == (store.num_nodes, 512)
        assert store.x_rel.shape == (store.num_nodes, 1000)
        assert len(store.name) == len(store.uri) == store.num_nodes
        assert all(store.name), 'every entity has a non-empty name'
        # every entity of these benchmarks occurs in some triple
        ei = data[REL[side]].edge_index
        assert torch.unique(ei).numel() == store.num_nodes
        assert data[REL[side]].edge_type.max() < data[REL[side]].num_relations
    same = data[SAME_AS]
    assert not bool((same.train_mask & same.test_mask).any())
    assert bool((same.train_mask | same.test_mask).all())
    # gold links are one-to-one
    assert torch.unique(same.edge_index[0]).numel() == links
    assert torch.unique(same.edge_index[1]).numel() == links


def test_dbp15k_names_and_ids(real, shared_data):
    data = real('DBP15K/zh_en')
    assert data['src'].name[0] == 'abdullah gul'
    assert data['src'].uri[0] == 'http://zh.dbpedia.org/resource/阿卜杜拉·居尔'
    assert data['tgt'].uri[0] == 'http://dbpedia.org/resource/Abdullah_Gül'
    assert data['src'].file_id[0] == 0 and data['tgt'].file_id[0] == 10500
    # local ids follow the entity files; the first gold link 0 -> 10500 is local 0 -> 0
    assert data[SAME_AS].edge_index[:, 0].tolist() == [0, 0]
    tokens = dict(
        (g, t) for g, t in json.loads(
            (shared_data / 'DBP15K/translated_ent_name/dbp_zh_en.json').read_text('utf-8')))
    for side in ('src', 'tgt'):
        for i in (1, 500, data[side].num_nodes - 1):
            assert data[side].name[i] == ' '.join(tokens[int(data[side].file_id[i])])
    assert 'x_attr' not in data['src'] and 'x_img' not in data['src']


def test_dbp15k_empty_translated_name_falls_back_to_uri(real):
    data = real('DBP15K/fr_en')
    assert data.meta['names_from_uri'] == 1
    assert all(n.strip() for n in data['src'].name + data['tgt'].name)


def test_dbp15k_split_is_seeded_30_70(shared_data):
    ds = DBP15K(shared_data, 'zh_en', name_encoder='hash', log=False)
    assert 'split-s0-r0.3' in ds.processed_paths[0] and 'name-hash' in ds.processed_paths[0]
    from psqe_pyg.pair import random_split_masks
    train, test = random_split_masks(15000, 0.3, 0)
    assert torch.equal(ds[0][SAME_AS].train_mask, train)
    other, _ = random_split_masks(15000, 0.3, 1)
    assert not torch.equal(train, other)


def test_dbp_wd_names_from_uris_and_labels(real):
    data = real('SRPRS/dbp_wd')
    assert data['src'].name[0] == 'Jannie du Plessis'
    assert data['tgt'].name[0] == 'Jannie du Plessis'
    assert data['src'].name[2] == 'Leoš Janáček Airport Ostrava'
    assert data['tgt'].uri[0] == 'http://www.wikidata.org/entity/Q325033'
    ei = data[SAME_AS].edge_index
    same = sum(data['src'].name[a] == data['tgt'].name[b] for a, b in ei.t().tolist())
    assert same / ei.size(1) > 0.95  # near-identical labels, as MANIFEST.md says
    # KG2 has no attribute file, so neither side gets x_attr
    assert 'x_attr' not in data['src'] and 'x_attr' not in data['tgt']
    assert 'training_attrs_1' in data.meta['attributes']


@pytest.mark.parametrize('spec', ['SRPRS/en_fr', 'SRPRS/en_de'])
def test_srprs_attributes_and_relations(real, spec):
    data = real(spec)
    xa, xb = data['src'].x_attr, data['tgt'].x_attr
    assert xa.layout == xb.layout == torch.sparse_coo  # bags stay sparse through the cache
    xa, xb = xa.to_dense(), xb.to_dense()
    assert xa.size(1) == xb.size(1) > 50  # one shared vocabulary
    assert ((xa > 0).any(1)).float().mean() > 0.9
    assert ((xb > 0).any(1)).float().mean() > 0.9
    info = data[REL['src']].relation_info
    assert len(info['uri']) == data[REL['src']].num_relations
    assert all(u.startswith('http') for u in info['uri'])


def test_srprs_split_is_sup_ent_ids(real, shared_data):
    data = real('SRPRS/en_de')
    folder = shared_data / 'SRPRS/en_de_15k_V1'
    sup = {tuple(map(int, line.split('\t'))) for line in
           (folder / 'sup_ent_ids').read_text().splitlines() if line}
    fid_s, fid_t = data['src'].file_id, data['tgt'].file_id
    same = data[SAME_AS]
    train = {(int(fid_s[a]), int(fid_t[b])) for a, b in same.edge_index[:, same.train_mask].t()}
    assert train == sup


def test_srprs_name_aliases(shared_data):
    ds = SRPRS(shared_data, 'en_fr_15k_V1', name_encoder='hash', log=False)
    assert ds.name == 'en_fr' and ds.raw_dir.endswith('en_fr_15k_V1')
