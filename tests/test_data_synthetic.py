"""The generated pair: deterministic per seed, consistent truth, skewed degrees, noisy views."""
from __future__ import annotations

import copy

import pytest
import torch

from psqe_pyg.datasets import SyntheticKGPair, dataset_summary, load_dataset
from psqe_pyg.pair import REL, SAME_AS, SYNTHETIC_DEFAULTS, generate_synthetic_pair, validate_pair


def assert_same(a, b):
    assert a.node_types == b.node_types and a.edge_types == b.edge_types
    for s1, s2 in zip(a.stores, b.stores):
        assert set(s1.keys()) == set(s2.keys())
        for key in s1.keys():
            v1, v2 = s1[key], s2[key]
            if isinstance(v1, torch.Tensor):
                assert v1.layout == v2.layout, key  # bags are sparse COO: compare their dense values
                v1, v2 = (v.to_dense() if v.layout != torch.strided else v for v in (v1, v2))
                assert v1.dtype == v2.dtype and torch.equal(v1, v2), key
            else:
                assert v1 == v2, key


@pytest.fixture(scope='module')
def default_pair():
    return generate_synthetic_pair(return_truth=True)


def test_deterministic_per_seed(default_pair):
    data, _ = default_pair
    assert_same(data, generate_synthetic_pair())
    assert_same(SyntheticKGPair(seed=0)[0], data)


def test_different_seeds_differ(default_pair):
    data, _ = default_pair
    other = generate_synthetic_pair(seed=1)
    assert other['src'].name != data['src'].name
    assert not torch.equal(other['src'].x_img, data['src'].x_img)
    assert not torch.equal(other[SAME_AS].edge_index, data[SAME_AS].edge_index)


# A value other than the default for every option, each changing the generated pair.
CHANGED = dict(num_entities=150, extra_entities=7, avg_degree=4.0, degree_exponent=2.5, num_relations=12,
               num_clusters=3, intra_cluster=0.2, num_attributes=30, img_dim=16, name_noise=0.3, img_noise=0.9,
               img_missing=0.5, attr_noise=0.5, edge_drop=0.3, train_ratio=0.5, seed=3)


def test_options_are_written_once_and_every_one_reaches_the_generator():
    # The defaults live in generate_synthetic_pair's signature only; SyntheticKGPair takes exactly those names.
    assert set(CHANGED) | {'name_encoder'} == set(SYNTHETIC_DEFAULTS)
    assert SyntheticKGPair().options == SYNTHETIC_DEFAULTS
    with pytest.raises(TypeError, match='num_entitys'):
        SyntheticKGPair(num_entitys=10)
    base = dict(num_entities=120)
    reference = generate_synthetic_pair(**base)
    for name, value in CHANGED.items():
        options = {**base, name: value}
        via_dataset = SyntheticKGPair(**options)[0]
        assert_same(via_dataset, generate_synthetic_pair(**options))
        assert via_dataset.meta != reference.meta, name  # the option was passed on, not dropped


def test_shapes_and_schema(default_pair):
    data, _ = default_pair
    validate_pair(data, require_links=True)
    s = dataset_summary(data)
    assert s['src']['entities'] == s['tgt']['entities'] == 2200  # 2000 shared + 200 extra
    assert s['links'] == {'total': 2000, 'train': 600, 'test': 1400}
    for side in ('src', 'tgt'):
        assert set(s[side]['modalities']) == {'name', 'img', 'attr', 'rel'}
        assert s[side]['modalities']['name'] == 512  # the hash encoder
        assert s[side]['relations'] == 40
    assert data['src'].x_attr.size(1) == data['tgt'].x_attr.size(1)
    # global ids disjoint between the sides, like the real benchmarks
    assert not set(data['src'].file_id.tolist()) & set(data['tgt'].file_id.tolist())


def test_truth_is_consistent(default_pair):
    data, truth = default_pair
    src_lat, tgt_lat = truth['src_latent'], truth['tgt_latent']
    s, t = data[SAME_AS].edge_index
    # every gold link joins the two copies of one latent entity, and covers all shared ones
    assert torch.equal(src_lat[s], tgt_lat[t])
    assert sorted(src_lat[s].tolist()) == list(range(2000))
    # entities without a counterpart: in one view only
    only_src = set(src_lat.tolist()) - set(tgt_lat.tolist())
    only_tgt = set(tgt_lat.tolist()) - set(src_lat.tolist())
    assert len(only_src) == len(only_tgt) == 200
    # each view's edges are latent edges, with the view's relation renaming
    lat_edges = {(h, tl): r for h, tl, r in zip(*truth['latent_edge_index'].tolist(),
                                                truth['latent_edge_type'].tolist())}
    for side, lat in (('src', src_lat), ('tgt', tgt_lat)):
        ei, et = data[REL[side]].edge_index, data[REL[side]].edge_type
        perm = truth[f'{side}_rel_perm']
        kept = 0
        for (h, tl), r in zip(lat[ei].t().tolist(), et.tolist()):
            assert (h, tl) in lat_edges
            assert perm[lat_edges[h, tl]] == r
            kept += 1
        members = set(lat.tolist())
        inside = sum(1 for (h, tl) in lat_edges if h in members and tl in members)
        assert 0.8 * inside < kept <= inside  # edge_drop = 0.1
    # relation ids are permuted differently in the two views
    assert not torch.equal(truth['src_rel_perm'], truth['tgt_rel_perm'])
    # ids are permuted: local id order is not the latent order
    assert not torch.equal(s, t)


def test_degree_skew(default_pair):
    data, truth = default_pair
    for side in ('src', 'tgt'):
        ei = data[REL[side]].edge_index
        deg = torch.bincount(ei.flatten(), minlength=data[side].num_nodes).float()
        assert deg.max() >= 20 * deg.median()  # dense hubs and a sparse tail
    lat = truth['latent_degree']
    assert (lat == 0).sum() == 0  # every latent entity has an edge


def test_img_mask_fraction(default_pair):
    data, _ = default_pair
    for side in ('src', 'tgt'):
        m = data[side].img_mask
        assert 0.15 < 1 - m.float().mean() < 0.25  # img_missing = 0.2
        assert bool((data[side].x_img[~m] == 0).all())
        assert bool((data[side].x_img[m].abs().sum(1) > 0).all())
    none = generate_synthetic_pair(num_entities=100, img_missing=0.0)
    assert bool(none['src'].img_mask.all())


def test_noise_knobs_matter():
    clean = generate_synthetic_pair(num_entities=300, name_noise=0.0, img_noise=0.0,
                                    edge_drop=0.0, attr_noise=0.0, extra_entities=0, seed=2)
    s, t = clean[SAME_AS].edge_index
    assert [clean['src'].name[i] for i in s.tolist()] == [clean['tgt'].name[i] for i in t.tolist()]
    both = clean['src'].img_mask[s] & clean['tgt'].img_mask[t]
    assert torch.equal(clean['src'].x_img[s][both], clean['tgt'].x_img[t][both])
    assert clean[REL['src']].edge_index.size(1) == clean[REL['tgt']].edge_index.size(1)
    noisy = generate_synthetic_pair(num_entities=300, name_noise=0.3, seed=2, extra_entities=0)
    s, t = noisy[SAME_AS].edge_index
    same = sum(noisy['src'].name[a] == noisy['tgt'].name[b] for a, b in zip(s.tolist(), t.tolist()))
    assert same < 0.2 * 300


def test_name_similarity_signal(default_pair):
    """Names of true pairs are more similar than random pairs (the data is alignable)."""
    data, _ = default_pair
    s, t = data[SAME_AS].edge_index
    xs, xt = data['src'].x_name, data['tgt'].x_name
    true_sim = (xs[s] * xt[t]).sum(1).mean()
    rand_sim = (xs[s] * xt[t.roll(1)]).sum(1).mean()
    assert true_sim > rand_sim + 0.3


def test_transform_does_not_mutate_stored_data():
    def transform(data):
        data['src'].x_name = data['src'].x_name * 0  # replaces a tensor
        data['src'].extra = torch.ones(1)  # adds a field
        data['src', 'rel', 'src'].edge_index = data['src', 'rel', 'src'].edge_index[:, :1]
        return data

    plain = SyntheticKGPair(num_entities=100, seed=4)[0]
    ds = SyntheticKGPair(num_entities=100, seed=4, transform=transform)
    out = ds[0]
    assert 'extra' in out['src'] and bool((out['src'].x_name == 0).all())
    again = copy.copy(ds._data)
    assert 'extra' not in again['src']
    assert_same(again, plain)
    ds.transform = None
    assert_same(ds[0], plain)


def test_pre_transform_and_disk_cache(tmp_path, monkeypatch):
    monkeypatch.delenv('PSQE_PYG_CACHE', raising=False)

    def pre(data):
        data.marker = 'pre'
        return data

    a = SyntheticKGPair(tmp_path, num_entities=100, seed=1, pre_transform=pre)
    files = list((tmp_path / 'synthetic' / 'processed').iterdir())
    assert len(files) == 1 and '_pre-' in files[0].name
    b = SyntheticKGPair(tmp_path, num_entities=100, seed=1, pre_transform=pre)
    assert b[0].marker == 'pre'
    assert_same(a[0], b[0])
    assert_same(SyntheticKGPair(tmp_path, num_entities=100, seed=1)[0],
                generate_synthetic_pair(num_entities=100, seed=1))
    assert len(list((tmp_path / 'synthetic' / 'processed').iterdir())) == 2
    assert not list((tmp_path / 'synthetic' / 'processed').glob('*.tmp-*'))


def test_load_dataset_synthetic_and_spec_errors():
    data = load_dataset('synthetic', None, num_entities=50, seed=9)
    assert data['src'].num_nodes == 55
    with pytest.raises(ValueError, match='unknown dataset .*valid: DBP15K/zh_en, .*synthetic'):
        load_dataset('DBP15K/de_en', '/nowhere')
    with pytest.raises(ValueError, match='valid:'):
        load_dataset('cora', None)


@pytest.mark.parametrize('kw,msg', [
    (dict(num_entities=0), 'num_entities must be an int >= 1'),
    (dict(img_missing=1.5), 'img_missing must be a number >= 0 and <= 1'),
    (dict(degree_exponent=2.0), 'degree_exponent must be a number > 2'),
    (dict(extra_entities=(1, 2, 3)), 'extra_entities must be an int or a'),
])
def test_bad_generator_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        generate_synthetic_pair(**kw)
