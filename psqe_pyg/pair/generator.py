r"""A generated KG pair with known truth: the built-in default data of ``psqe-pyg``.

:func:`generate_synthetic_pair` draws one latent knowledge graph and derives two noisy views of it:

* **Latent graph.** ``num_entities`` shared entities plus ``extra_entities`` per side that exist in
  one view only. Every entity belongs to one of ``num_clusters`` communities. Edges follow a
  Chung–Lu model with power-law expected degrees (exponent ``degree_exponent``, smaller = more
  skewed), so there are dense hubs and a long sparse tail; a fraction ``intra_cluster`` of edges
  stays inside the head's community. A relation type (``num_relations``, Zipf-distributed) is
  attached to every edge, mostly determined by the two endpoints' communities.
* **Views.** Each view keeps its entities under a random permutation of ids, drops each edge with
  probability ``edge_drop`` and renames relation types by a random permutation. Names are generated
  pseudo-words (with a community "type" word for half the entities) corrupted character by
  character with probability ``name_noise``, encoded with ``name_encoder`` (default ``'hash'``).
  Images are the entity's latent vector plus Gaussian noise of std ``img_noise``, missing for
  a fraction ``img_missing`` of each view's entities (``img_mask``). Attributes are
  community-flavoured names; each view drops each with probability ``attr_noise`` and adds a
  random one with the same probability. Relation bags come from the view's own edges.
* **Truth.** ``same_as`` links every shared entity's two copies, split 30/70 (``train_ratio``) with
  ``torch.Generator().manual_seed(seed)``.

Same seed -> bit-identical output; ~0.3 s for 2,000 entities.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.pair.schema import KGSide, build_pair

__all__ = ['generate_synthetic_pair', 'SYNTHETIC_DEFAULTS']

_CONSONANTS = list('bcdfghjklmnprstvz')
_VOWELS = list('aeiou')
_TYPE_WORDS = ['city', 'river', 'club', 'album', 'party', 'school', 'station', 'film', 'island',
               'company', 'church', 'award', 'village', 'song', 'mountain', 'festival']
_LETTERS = np.array(list('abcdefghijklmnopqrstuvwxyz'))


def _check(name: str, value, lo, hi, *, integer=False, lo_open=False):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not (
            (value > lo if lo_open else value >= lo) and value <= hi):
        kind = 'an int' if integer else 'a number'
        lo_s = f'> {lo}' if lo_open else f'>= {lo}'
        raise ValueError(f'generate_synthetic_pair: {name} must be {kind} {lo_s} and <= {hi}, '
                         f'got {value!r}')


def _words(rng: np.random.Generator, n: int) -> list[str]:
    r"""``n`` pseudo-words of 2-4 consonant-vowel syllables."""
    nsyl = rng.integers(2, 5, size=n)
    cons = rng.integers(len(_CONSONANTS), size=(n, 4))
    vows = rng.integers(len(_VOWELS), size=(n, 4))
    tail = rng.random(n) < 0.3
    tail_c = rng.integers(len(_CONSONANTS), size=n)
    out = []
    for i in range(n):
        w = ''.join(_CONSONANTS[cons[i, j]] + _VOWELS[vows[i, j]] for j in range(nsyl[i]))
        if tail[i]:
            w += _CONSONANTS[tail_c[i]]
        out.append(w)
    return out


def _corrupt(rng: np.random.Generator, names: list[str], p: float) -> list[str]:
    r"""Per character, with probability ``p``: substitute (50%), delete (25%) or insert a random
    letter after it (25%). Spaces are kept; a name that would become empty stays unchanged."""
    if p <= 0 or not names:
        return list(names)
    arr = np.array(list('\n'.join(names)))
    n = len(arr)
    hit = (rng.random(n) < p) & (arr != ' ') & (arr != '\n')
    op = rng.random(n)
    letters = _LETTERS[rng.integers(26, size=n)]
    sub = hit & (op < 0.5)
    arr = np.where(sub, letters, arr)
    ins = np.flatnonzero(hit & (op >= 0.75))
    keep = ~(hit & (op >= 0.5) & (op < 0.75))
    arr = np.insert(arr, ins + 1, letters[ins])
    keep = np.insert(keep, ins + 1, True)
    out = ''.join(arr[keep].tolist()).split('\n')
    return [' '.join(t.split()) or s for t, s in zip(out, names)]


def generate_synthetic_pair(
    num_entities: int = 2000,
    *,
    extra_entities: int | tuple[int, int] | None = None,
    avg_degree: float = 6.0,
    degree_exponent: float = 2.2,
    num_relations: int = 40,
    num_clusters: int = 8,
    intra_cluster: float = 0.7,
    num_attributes: int = 120,
    img_dim: int = 64,
    name_noise: float = 0.1,
    img_noise: float = 0.5,
    img_missing: float = 0.2,
    attr_noise: float = 0.2,
    edge_drop: float = 0.1,
    train_ratio: float = 0.3,
    name_encoder: str = 'hash',
    seed: int = 0,
    return_truth: bool = False,
) -> HeteroData | tuple[HeteroData, dict[str, Tensor]]:
    r"""Generates a KG pair with known alignment (see the module docstring for the model).

    Args:
        num_entities: entities present in both views (= number of gold links).
        extra_entities: entities present in one view only, per side (an int for both, or
            ``(src, tgt)``); default ``num_entities // 10``.
        avg_degree: mean degree of the latent graph (before dedup and edge drop).
        degree_exponent: power-law exponent ``gamma > 2`` of the expected degrees; smaller means
            heavier hubs.
        num_relations: relation types (each view gets a random renaming of them).
        num_clusters: communities; images, attributes, type words and relations follow them.
        intra_cluster: fraction of edges whose tail is drawn from the head's community.
        num_attributes: attribute-name vocabulary size.
        img_dim: dimension of the image vectors.
        name_noise: per-character corruption probability of each view's names.
        img_noise: std of the Gaussian noise added to each view's image vectors.
        img_missing: fraction of each view's entities without an image.
        attr_noise: per-attribute drop probability (and chance of one random extra attribute).
        edge_drop: per-view probability of dropping each latent edge.
        train_ratio: fraction of gold links marked ``train_mask``.
        name_encoder: ``'hash'`` (default, dependency-free), ``'minilm'`` or ``'auto'``.
        seed: everything is a function of the seed.
        return_truth: also return ``{'src_latent', 'tgt_latent', 'latent_edge_index',
            'latent_edge_type', 'src_rel_perm', 'tgt_rel_perm', 'latent_degree'}``: the latent id of
            each local entity, the latent graph and each view's relation renaming.
    """
    _check('num_entities', num_entities, 1, 10**8, integer=True)
    if extra_entities is None:
        extra = (num_entities // 10, num_entities // 10)
    elif isinstance(extra_entities, (tuple, list)):
        extra = tuple(int(e) for e in extra_entities)
        if len(extra) != 2:
            raise ValueError('generate_synthetic_pair: extra_entities must be an int or a '
                             f'(src, tgt) pair, got {extra_entities!r}')
    else:
        extra = (extra_entities, extra_entities)
    for e in extra:
        _check('extra_entities', e, 0, 10**8, integer=True)
    _check('avg_degree', avg_degree, 0, 1e4, lo_open=True)
    _check('degree_exponent', degree_exponent, 2, 100, lo_open=True)
    _check('num_relations', num_relations, 1, 10**6, integer=True)
    _check('num_clusters', num_clusters, 1, 10**6, integer=True)
    _check('num_attributes', num_attributes, 1, 10**6, integer=True)
    _check('img_dim', img_dim, 1, 10**5, integer=True)
    for name, v in (('intra_cluster', intra_cluster), ('name_noise', name_noise),
                    ('img_missing', img_missing), ('attr_noise', attr_noise),
                    ('edge_drop', edge_drop), ('train_ratio', train_ratio)):
        _check(name, v, 0, 1)
    _check('img_noise', img_noise, 0, 1e6)
    _check('seed', seed, 0, 2**63 - 1, integer=True)

    rng = np.random.default_rng(seed)
    n_shared, n_xs, n_xt = num_entities, extra[0], extra[1]
    n_lat = n_shared + n_xs + n_xt
    K = num_clusters
    cluster = rng.integers(K, size=n_lat)

    # --- latent graph: Chung-Lu with power-law weights ---------------------------------------
    rank = rng.permutation(n_lat) + 1
    w = rank.astype(np.float64)**(-1.0 / (degree_exponent - 1.0))
    n_edges = max(1, int(round(avg_degree * n_lat / 2)))
    cum = np.cumsum(w)
    head = np.searchsorted(cum, rng.random(n_edges) * cum[-1], side='right')
    head = np.minimum(head, n_lat - 1)
    # tails: global Chung-Lu, or inside the head's community with probability intra_cluster
    tail = np.searchsorted(cum, rng.random(n_edges) * cum[-1], side='right')
    order = np.argsort(cluster, kind='stable')
    cum_c = np.cumsum(w[order])
    starts = np.searchsorted(cluster[order], np.arange(K), side='left')
    ends = np.searchsorted(cluster[order], np.arange(K), side='right')
    base = np.concatenate([[0.0], cum_c])
    lo_v, hi_v = base[starts[cluster[head]]], base[ends[cluster[head]]]
    pos = np.searchsorted(cum_c, lo_v + rng.random(n_edges) * (hi_v - lo_v), side='right')
    pos = np.clip(pos, starts[cluster[head]], ends[cluster[head]] - 1)
    intra = rng.random(n_edges) < intra_cluster
    tail = np.where(intra, order[pos], np.minimum(tail, n_lat - 1))
    # every latent entity gets at least one edge (to a weight-proportional partner), as in the
    # public benchmarks where every entity occurs in some triple
    lonely = np.setdiff1d(np.arange(n_lat), np.concatenate([head[head != tail],
                                                           tail[head != tail]]))
    if len(lonely) and n_lat > 1:
        partner = np.searchsorted(cum, rng.random(len(lonely)) * cum[-1], side='right')
        partner = np.minimum(partner, n_lat - 1)
        partner = np.where(partner == lonely, (partner + 1) % n_lat, partner)
        flip = rng.random(len(lonely)) < 0.5
        head = np.concatenate([head, np.where(flip, partner, lonely)])
        tail = np.concatenate([tail, np.where(flip, lonely, partner)])
    keep = head != tail
    pairs = np.unique(np.stack([head[keep], tail[keep]], 1), axis=0)
    pairs = pairs[rng.permutation(len(pairs))]
    lat_h, lat_t = pairs[:, 0], pairs[:, 1]
    # relation types: mostly a function of the two communities, else Zipf noise
    zipf = 1.0 / np.arange(1, num_relations + 1)**1.1
    zipf /= zipf.sum()
    table = rng.choice(num_relations, size=(K, K), p=zipf)
    noise_rel = rng.choice(num_relations, size=len(pairs), p=zipf)
    lat_rel = np.where(rng.random(len(pairs)) < 0.6, table[cluster[lat_h], cluster[lat_t]],
                       noise_rel)

    # --- latent modalities ------------------------------------------------------------------
    words = _words(rng, 3 * n_lat)
    nwords = rng.integers(1, 4, size=n_lat)
    typed = rng.random(n_lat) < 0.5
    type_word = rng.permutation(len(_TYPE_WORDS))[:K] if K <= len(_TYPE_WORDS) else \
        rng.integers(len(_TYPE_WORDS), size=K)
    lat_names = []
    for i in range(n_lat):
        s = ' '.join(words[3 * i:3 * i + nwords[i]])
        if typed[i]:
            s += ' ' + _TYPE_WORDS[type_word[cluster[i]]]
        lat_names.append(s)
    centers = rng.normal(size=(K, img_dim))
    lat_img = centers[cluster] + 0.7 * rng.normal(size=(n_lat, img_dim))
    # attributes: each community prefers its own Zipf ordering of the vocabulary
    attr_pref = np.stack([rng.permutation(num_attributes) for _ in range(K)])
    attr_p = 1.0 / np.arange(1, num_attributes + 1)**1.2
    attr_p /= attr_p.sum()
    n_attr = np.minimum(1 + rng.poisson(4, size=n_lat), num_attributes)
    draws = rng.choice(num_attributes, size=(n_lat, int(n_attr.max())), p=attr_p)
    lat_attrs = [sorted(set(attr_pref[cluster[i], draws[i, :n_attr[i]]].tolist()))
                 for i in range(n_lat)]

    # --- the two views ----------------------------------------------------------------------
    shared = np.arange(n_shared)
    members = {
        'src': np.concatenate([shared, n_shared + np.arange(n_xs)]),
        'tgt': np.concatenate([shared, n_shared + n_xs + np.arange(n_xt)]),
    }
    hosts = {'src': 'kg1.example.org', 'tgt': 'kg2.example.org'}
    attr_ns = {'src': 'ontology', 'tgt': 'property'}
    sides: dict[str, KGSide] = {}
    images = []
    truth: dict[str, Tensor] = {}
    offset = 0
    for key in ('src', 'tgt'):
        latent = members[key][rng.permutation(len(members[key]))]  # local i -> latent id
        n = len(latent)
        local = np.full(n_lat, -1, dtype=np.int64)
        local[latent] = np.arange(n)
        file_id = offset + np.arange(n)
        offset += n
        rel_perm = rng.permutation(num_relations)
        inside = (local[lat_h] >= 0) & (local[lat_t] >= 0)
        kept = inside & (rng.random(len(lat_h)) >= edge_drop)
        h, t, r = local[lat_h[kept]], local[lat_t[kept]], rel_perm[lat_rel[kept]]
        triples = torch.from_numpy(np.stack([file_id[h], r, file_id[t]], 1).astype(np.int64))
        names = _corrupt(rng, [lat_names[g] for g in latent], name_noise)
        img = lat_img[latent] + img_noise * rng.normal(size=(n, img_dim))
        has_img = rng.random(n) >= img_missing
        img[~has_img] = 0.0
        images += [torch.from_numpy(img.astype(np.float32)), torch.from_numpy(has_img)]
        attrs = []
        drop = rng.random((n, int(n_attr.max()))) < attr_noise
        add = rng.random(n) < attr_noise
        extra_a = rng.integers(num_attributes, size=n)
        for i, g in enumerate(latent):
            a = [x for x, d in zip(lat_attrs[g], drop[i]) if not d]
            if add[i] and extra_a[i] not in a:
                a.append(int(extra_a[i]))
            attrs.append([f'http://{hosts[key]}/{attr_ns[key]}/attr{x}' for x in a])
        sides[key] = KGSide(
            file_id=torch.from_numpy(file_id.astype(np.int64)),
            uri=[f'http://{hosts[key]}/resource/E{g}' for g in file_id.tolist()],
            name=names,
            triples=triples,
            relations=range(num_relations),
            relation_uri={j: f'http://{hosts[key]}/relation/R{j}' for j in range(num_relations)},
            attrs=attrs,
        )
        truth[f'{key}_latent'] = torch.from_numpy(latent.astype(np.int64))
        truth[f'{key}_rel_perm'] = torch.from_numpy(rel_perm.astype(np.int64))
        truth[f'{key}_local'] = torch.from_numpy(local)

    # gold links: shared latent entities, in latent order
    s_loc = truth['src_local'][:n_shared]
    t_loc = truth['tgt_local'][:n_shared]
    links = torch.stack([sides['src'].file_id[s_loc], sides['tgt'].file_id[t_loc]], 1)
    perm = torch.randperm(n_shared, generator=torch.Generator().manual_seed(seed))
    train_mask = torch.zeros(n_shared, dtype=torch.bool)
    train_mask[perm[:int(round(train_ratio * n_shared))]] = True

    meta = dict(
        dataset='synthetic', name_encoder=name_encoder, num_entities=num_entities,
        extra_entities=list(extra), avg_degree=avg_degree, degree_exponent=degree_exponent,
        num_relations=num_relations, num_clusters=num_clusters, intra_cluster=intra_cluster,
        num_attributes=num_attributes, img_dim=img_dim, name_noise=name_noise,
        img_noise=img_noise, img_missing=img_missing, attr_noise=attr_noise,
        edge_drop=edge_drop, train_ratio=train_ratio, seed=seed,
        split=f'random {train_ratio:g}/{1 - train_ratio:g} of the gold links, '
        f'torch.Generator().manual_seed({seed})')
    data = build_pair(sides['src'], sides['tgt'], links, train_mask, ~train_mask,
                      name_encoder=name_encoder, images=tuple(images),
                      rel_dim=2 * num_relations, meta=meta)
    if not return_truth:
        return data
    deg = np.bincount(np.concatenate([lat_h, lat_t]), minlength=n_lat)
    truth.update(
        latent_edge_index=torch.from_numpy(np.stack([lat_h, lat_t]).astype(np.int64)),
        latent_edge_type=torch.from_numpy(lat_rel.astype(np.int64)),
        latent_cluster=torch.from_numpy(cluster.astype(np.int64)),
        latent_degree=torch.from_numpy(deg.astype(np.int64)),
    )
    truth['latent_name'] = lat_names  # type: ignore[assignment]
    return data, truth


#: Every option of :func:`generate_synthetic_pair` with its default, read from its signature (the one place
#: they are written): what :class:`~psqe_pyg.datasets.SyntheticKGPair` accepts and hashes into its cache key.
SYNTHETIC_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(generate_synthetic_pair).parameters.items()
    if name != 'return_truth'
}
