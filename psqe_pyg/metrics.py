r"""Evaluation metrics for entity alignment and for pseudo-seed sets.

* :func:`ranking_metrics`: Hits@k, MRR and MR of a set of links, both directions, cosine or CSLS;
  :func:`link_ranks` gives the per-link ranks and :func:`summarize_ranks` /
  :func:`grouped_ranking_metrics` turn ranks into numbers (overall or per degree bucket).
* :func:`seed_quality`: precision (raw and verifiable), recall and F1 of a seed set against the gold links.
* :func:`degree`, :func:`degree_buckets`, :func:`coverage_balance`: how evenly seeds cover the graph's
  sparse and dense regions (or any grouping, e.g. k-means clusters).

Ranking protocol: with ``L`` evaluated links ``(s_i, t_i)``, each source ``s_i`` is ranked against a
candidate set of target entities (and each ``t_i`` against source entities for the other direction):

* ``candidates='links'`` (the literature's, so numbers compare): the targets of ALL ``L`` links
  ``{t_1..t_L}`` (and ``{s_1..s_L}``); entities outside the evaluated links are not candidates;
* ``candidates='all'``: every entity of the other KG, linked or not.

Ranks are pessimistic: ``rank = 1 + number of candidates other than the gold one that score >= the gold
one``, so a tie never helps; an encoder that maps many entities to one vector ranks them all low.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from psqe_pyg._checks import as_index, check_range

__all__ = [
    'coverage_balance',
    'degree',
    'degree_buckets',
    'grouped_ranking_metrics',
    'link_ranks',
    'ranking_metrics',
    'seed_quality',
    'summarize_ranks',
]

_DIRECTIONS = {'src': ('src->tgt',), 'tgt': ('tgt->src',), 'both': ('src->tgt', 'tgt->src')}
CANDIDATE_SETS = ('links', 'all')
# Elements of one similarity tile (rows x L) when tile_size is not given: 2**25 floats = 128 MiB.
_TILE_ELEMS = 1 << 25


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _as_pairs(t, name: str, who: str) -> Tensor:
    t = as_index(t, name, who, 2)
    if t.size(0) != 2:
        raise ValueError(f'{who}: {name} must have shape [2, L] (got {tuple(t.shape)})')
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f'{who}: {name} holds negative ids')
    return t




def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _sim_topk_values(x: Tensor, y: Tensor, k: int) -> Tensor:
    """The k largest inner products of each x row against y's rows, via the tiled ops kernel."""
    from psqe_pyg.ops import sim_topk
    return sim_topk(x, y, k).values


def _csls_radius(x: Tensor, y: Tensor, k: int) -> Tensor:
    """r(x_i) = mean of the k largest cosines of x_i to the rows of y (x, y already unit rows)."""
    return _sim_topk_values(x, y, min(k, y.size(0))).mean(dim=1)


def _rank_rows(q: Tensor, c: Tensor, gold: Tensor, bias_q: Tensor | None, bias_c: Tensor | None,
               tile: int) -> Tensor:
    """rank_i = #{j : score(i, j) >= score(i, gold_i)} (pessimistic: the gold column counts itself once).

    ``score = q c^T`` for cosine, ``2 q c^T - bias_q[i] - bias_c[j]`` for CSLS; ``q [L, d]``, ``c [C, d]``,
    ``gold [L]`` the candidate column of each query's true partner. Computed ``tile`` rows at a time in one
    reused ``[tile, C]`` buffer, never ``[L, C]`` at once. The true score is read from the same tile as the
    candidates' scores, so rounding cannot make the true partner beat or lose to itself.
    """
    L, C = q.size(0), c.size(0)
    scores = q.new_empty(min(tile, L), C)
    # Counted as a matrix-vector product of the 0/1 scores (~5x faster than a bool row sum on CPU); a float32
    # sum of 0/1 is exact below 2**24 candidates, float64 above.
    ones = q.new_ones(C, dtype=torch.float64 if C >= 1 << 24 else q.dtype)
    ranks = torch.empty(L, dtype=torch.long, device=q.device)
    for i in range(0, L, tile):
        j = min(i + tile, L)
        s = scores[:j - i]
        torch.mm(q[i:j], c.t(), out=s)
        if bias_q is not None:
            s.mul_(2.0).sub_(bias_q[i:j, None]).sub_(bias_c[None, :])
        true = s.gather(1, gold[i:j, None])
        ranks[i:j] = torch.mv(torch.ge(s, true, out=s).to(ones.dtype), ones).long()
    return ranks


# --------------------------------------------------------------------------------------------------
# ranking
# --------------------------------------------------------------------------------------------------
@torch.no_grad()
def link_ranks(src_emb: Tensor, tgt_emb: Tensor, pairs: Tensor, *, csls_k: int | None = None,
               direction: str = 'both', candidates: str = 'links',
               tile_size: int | None = None) -> dict[str, Tensor]:
    r"""Rank of each link's true partner -> ``{'src->tgt': LongTensor[L], 'tgt->src': LongTensor[L]}``.

    ``rank = 1 + (number of candidates other than the true partner scoring >= the true partner)``:
    pessimistic, a tie never helps. Candidates are the other ends of all ``L`` links
    (``candidates='links'``) or every entity of the other KG (``'all'``); see the module docstring. Only
    the asked directions are present. See :func:`ranking_metrics` for the arguments.
    """
    who = 'ranking_metrics'
    if direction not in _DIRECTIONS:
        raise ValueError(f"{who}: direction must be 'both', 'src' or 'tgt' (got {direction!r})")
    if candidates not in CANDIDATE_SETS:
        raise ValueError(f"{who}: candidates must be one of {CANDIDATE_SETS} (got {candidates!r})")
    for name, e in (('src_emb', src_emb), ('tgt_emb', tgt_emb)):
        if not isinstance(e, Tensor) or e.dim() != 2:
            raise ValueError(f'{who}: {name} must be a 2-D tensor [N, d] '
                             f'(got {tuple(e.shape) if isinstance(e, Tensor) else type(e).__name__})')
    if src_emb.size(1) != tgt_emb.size(1):
        raise ValueError(f'{who}: src_emb has {src_emb.size(1)} dims but tgt_emb has {tgt_emb.size(1)}')
    pairs = _as_pairs(pairs, 'pairs', who)
    check_range(pairs[0], src_emb.size(0), 'pairs[0]', 'src_emb.size(0)', who)
    check_range(pairs[1], tgt_emb.size(0), 'pairs[1]', 'tgt_emb.size(0)', who)
    if csls_k is not None and (not isinstance(csls_k, int) or csls_k < 1):
        raise ValueError(f'{who}: csls_k must be a positive int or None (got {csls_k!r})')
    if tile_size is not None and (not isinstance(tile_size, int) or tile_size < 1):
        raise ValueError(f'{who}: tile_size must be a positive int or None (got {tile_size!r})')

    L = pairs.size(1)
    device = src_emb.device
    if L == 0:
        return {d: torch.zeros(0, dtype=torch.long, device=device) for d in _DIRECTIONS[direction]}
    pairs = pairs.to(device)
    dtype = torch.promote_types(torch.promote_types(src_emb.dtype, tgt_emb.dtype), torch.float32)
    if candidates == 'links':  # the candidate sets are the links' own ends, in link order
        src_emb, tgt_emb = src_emb[pairs[0]], tgt_emb.to(device)[pairs[1]]
        pairs = torch.arange(L, device=device).expand(2, L)
    s = F.normalize(src_emb.to(dtype), dim=1)
    t = F.normalize(tgt_emb.to(device, dtype), dim=1)
    where = ' in the rows of the evaluated links' if candidates == 'links' else ''
    for name, e in (('src_emb', s), ('tgt_emb', t)):
        if not bool(torch.isfinite(e).all()):
            raise ValueError(f'{who}: {name} has NaN or infinite values{where}')

    r_s = r_t = None
    if csls_k is not None:
        r_s = _csls_radius(s, t, csls_k).to(dtype)  # each src's neighbourhood among the tgt candidates
        r_t = _csls_radius(t, s, csls_k).to(dtype)
    out = {}
    for d in _DIRECTIONS[direction]:
        q, c, r_q, r_c, end, gold = ((s, t, r_s, r_t, 0, pairs[1]) if d == 'src->tgt' else
                                     (t, s, r_t, r_s, 1, pairs[0]))
        tile = tile_size or max(1, min(L, _TILE_ELEMS // c.size(0)))
        out[d] = _rank_rows(q[pairs[end]], c, gold, None if r_q is None else r_q[pairs[end]], r_c, tile)
    return out


def summarize_ranks(ranks: Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """``{'hits@k': fraction of ranks <= k for each k, 'mrr': mean 1/rank, 'mr': mean rank}``.

    All values are Python floats in [0, 1] (hits, MRR) or >= 1 (MR); an empty input gives 0.0 for all.
    """
    ranks = ranks.reshape(-1)
    n = ranks.numel()
    out = {}
    for k in ks:
        out[f'hits@{k}'] = float((ranks <= k).sum()) / n if n else 0.0
    out['mrr'] = float((1.0 / ranks.double()).sum()) / n if n else 0.0
    out['mr'] = float(ranks.double().sum()) / n if n else 0.0
    return out


def ranking_metrics(src_emb: Tensor, tgt_emb: Tensor, pairs: Tensor, *, ks: Sequence[int] = (1, 5, 10),
                    csls_k: int | None = None, direction: str = 'both', candidates: str = 'links',
                    tile_size: int | None = None, return_ranks: bool = False) -> dict:
    r"""Hits@k, MRR and MR of the evaluated links in each direction, and their mean.

    Protocol: with ``pairs[:, i] = (s_i, t_i)`` the ``L`` evaluated (test or validation) links, source
    ``s_i`` is ranked against the targets of all ``L`` links (``'src->tgt'``) and target ``t_i`` against
    the sources of all links (``'tgt->src'``) with ``candidates='links'``, or against every entity of the
    other KG with ``candidates='all'``. Similarity is cosine (embeddings are L2-normalised here), or with
    ``csls_k`` set, CSLS (Conneau et al., 2018):
    ``csls(s, t) = 2 cos(s, t) - r_src(s) - r_tgt(t)``, where ``r_src(s)`` is the mean of the
    ``csls_k`` largest cosines of ``s`` to the target candidates and ``r_tgt(t)`` that of ``t`` to the
    source candidates (the candidate set of the other direction; computed with :func:`psqe_pyg.ops.sim_topk`). CSLS penalises hubs, candidates
    that are close to everything.

    ``rank = 1 + number of candidates other than the true partner scoring >= it`` (pessimistic: a
    candidate tied with the true partner pushes it down, so identical embeddings score Hits@1 = 0, not 1).
    Scores are computed ``tile_size`` rows at a time (a ``[tile_size, C]`` block for ``C`` candidates; by
    default as many rows as fit in 2^25 entries), so memory stays ``O(tile_size * C)``.

    Args:
        src_emb: ``[N_src, d]`` source entity embeddings (local ids).
        tgt_emb: ``[N_tgt, d]`` target entity embeddings.
        pairs: ``[2, L]`` evaluated links ``(src id, tgt id)``, e.g.
            ``data['src','same_as','tgt'].edge_index[:, test_mask]``.
        ks: the k of Hits@k.
        csls_k: CSLS neighbourhood size (10 is customary); ``None`` for plain cosine.
        direction: ``'both'``, ``'src'`` (src->tgt only) or ``'tgt'`` (tgt->src only).
        candidates: ``'links'`` (the other ends of the ``L`` links) or ``'all'`` (every entity of the
            other KG; every row of ``src_emb``/``tgt_emb`` must then be finite).
        tile_size: rows per similarity block.
        return_ranks: also return the per-link rank tensors under ``'ranks'``.

    Returns:
        ``{'src->tgt': {'hits@1': .., 'hits@5': .., 'hits@10': .., 'mrr': .., 'mr': ..},
        'tgt->src': {...}, 'mean': {...}, 'num_links': L, 'csls_k': csls_k, 'candidates': candidates}``
        (only the asked
        directions; ``'mean'`` averages them), plus ``'ranks'`` if asked.
    """
    ks = tuple(int(k) for k in ks)
    if any(k < 1 for k in ks):
        raise ValueError(f'ranking_metrics: every k in ks must be >= 1 (got {ks})')
    ranks = link_ranks(src_emb, tgt_emb, pairs, csls_k=csls_k, direction=direction, candidates=candidates,
                       tile_size=tile_size)
    out: dict = {d: summarize_ranks(r, ks) for d, r in ranks.items()}
    keys = next(iter(out.values())).keys()
    out['mean'] = {key: sum(out[d][key] for d in ranks) / len(ranks) for key in keys}
    out['num_links'] = int(pairs.size(1))
    out['csls_k'] = csls_k
    out['candidates'] = candidates
    if return_ranks:
        out['ranks'] = ranks
    return out


def grouped_ranking_metrics(ranks: Tensor, groups: Tensor, num_groups: int | None = None,
                            ks: Sequence[int] = (1, 5, 10)) -> list[dict[str, float]]:
    """Per-group :func:`summarize_ranks` -> list of ``num_groups`` dicts (each also has ``'count'``).

    The ranks are taken as given; those of :func:`link_ranks` are pessimistic (ties count against).

    ``ranks[i]`` and ``groups[i]`` refer to the same test link, e.g. the src->tgt ranks from
    ``ranking_metrics(..., return_ranks=True)['ranks']['src->tgt']`` and
    ``degree_buckets(deg)[pairs[0]]`` for accuracy by source-entity degree.
    """
    groups = as_index(groups, 'groups', 'grouped_ranking_metrics', 1)
    ranks = ranks.reshape(-1)
    if groups.numel() != ranks.numel():
        raise ValueError(f'grouped_ranking_metrics: ranks has {ranks.numel()} entries, groups {groups.numel()}')
    if num_groups is None:
        num_groups = int(groups.max()) + 1 if groups.numel() else 0
    check_range(groups, num_groups, 'groups', 'num_groups', 'grouped_ranking_metrics')
    groups = groups.to(ranks.device)
    out = []
    for g in range(num_groups):
        r = ranks[groups == g]
        out.append({**summarize_ranks(r, ks), 'count': int(r.numel())})
    return out


# --------------------------------------------------------------------------------------------------
# seed quality
# --------------------------------------------------------------------------------------------------
def seed_quality(seeds: Tensor, gold: Tensor) -> dict[str, float | int]:
    r"""Quality of a pseudo-seed set against the gold links.

    Seeds and gold links are treated as sets of ``(src, tgt)`` pairs (a repeated pair counts once).

    Returns a dict with

    * ``num_seeds``: distinct seed pairs;
    * ``num_correct``: seeds that are gold links;
    * ``precision``: raw precision ``num_correct / num_seeds`` (the PSQE paper's figure);
    * ``num_verifiable``: seeds with at least one end in the gold links (src in the gold sources or
      tgt in the gold targets). A seed with neither end in the gold links cannot be judged (DBP15K has
      about 4,500 entities per side outside its links);
    * ``verifiable_precision``: ``num_correct / num_verifiable``;
    * ``num_gold``: distinct gold links; ``recall``: ``num_correct / num_gold``;
    * ``f1``: harmonic mean of raw precision and recall.

    Ratios with a zero denominator are 0.0.
    """
    who = 'seed_quality'
    seeds = _as_pairs(seeds, 'seeds', who).cpu()
    gold = _as_pairs(gold, 'gold', who).cpu()
    base = int(max(int(seeds[1].max()) if seeds.numel() else 0,
                   int(gold[1].max()) if gold.numel() else 0)) + 1
    seed_keys = torch.unique(seeds[0] * base + seeds[1])
    gold_keys = torch.unique(gold[0] * base + gold[1])
    s_src, s_tgt = seed_keys // base, seed_keys % base
    correct = int(torch.isin(seed_keys, gold_keys).sum())
    verifiable = int((torch.isin(s_src, gold[0]) | torch.isin(s_tgt, gold[1])).sum())
    n, g = int(seed_keys.numel()), int(gold_keys.numel())
    precision, recall = _ratio(correct, n), _ratio(correct, g)
    return {
        'num_seeds': n,
        'num_correct': correct,
        'precision': precision,
        'num_verifiable': verifiable,
        'verifiable_precision': _ratio(correct, verifiable),
        'num_gold': g,
        'recall': recall,
        'f1': _ratio(2 * precision * recall, precision + recall),
    }


# --------------------------------------------------------------------------------------------------
# degree and coverage
# --------------------------------------------------------------------------------------------------
def degree(data, node_type: str = 'src', *, distinct: bool = True) -> Tensor:
    r"""Degree of each entity of one KG in its undirected relation graph -> ``LongTensor[N]``.

    Reads ``data[node_type, 'rel', node_type].edge_index`` (any edge type from ``node_type`` to itself
    is used when there is no ``'rel'`` one). Edge direction and relation type are ignored. With
    ``distinct=True`` (default) the degree is the number of distinct neighbours, self-loops excluded —
    the ``|N(u)|`` of PSQE's neighbourhood expansion; with ``distinct=False`` it counts incident triples
    (a self-loop counts twice).
    """
    who = 'degree'
    store = data[node_type]
    n = store.num_nodes
    if n is None:
        raise ValueError(f"{who}: data['{node_type}'] has no num_nodes")
    key = (node_type, 'rel', node_type)
    if key not in data.edge_types:
        cands = [et for et in data.edge_types if et[0] == node_type and et[2] == node_type]
        if not cands:
            raise ValueError(f'{who}: data has no {node_type} -> {node_type} relation edges '
                             f'(edge types: {data.edge_types})')
        key = cands[0]
    ei = as_index(data[key].edge_index, f'data[{key}].edge_index', who, 2)
    check_range(ei, n, f'data[{key}].edge_index', 'num_nodes', who)
    a = torch.cat([ei[0], ei[1]])
    b = torch.cat([ei[1], ei[0]])
    if distinct:
        keep = a != b
        a = torch.unique(a[keep] * n + b[keep]) // n
    return torch.bincount(a, minlength=n)


def degree_buckets(degree: Tensor, num_buckets: int = 3, *, edges: Sequence[float] | Tensor | None = None) -> Tensor:
    r"""Bucket entities by degree -> ``LongTensor[N]`` of bucket ids, 0 = sparsest.

    Quantile buckets (default): entity ``i`` goes to bucket
    ``min(B - 1, floor(B * n_less(i) / N))`` with ``B = num_buckets`` and ``n_less(i)`` the number of
    entities of strictly smaller degree. With distinct degrees this splits the entities into ``B``
    groups of (nearly) equal size by ascending degree. Equal degrees always stay in one bucket: a tie
    group goes to the bucket where its first member falls, so with heavy ties (many degree-1
    entities) buckets can be unequal and some can be empty.

    With ``edges`` (ascending thresholds ``e_0 < e_1 < ...``), bucket 0 is ``degree < e_0``, bucket
    ``b`` is ``e_{b-1} <= degree < e_b`` and the last is ``degree >= e_last`` (``len(edges) + 1``
    buckets; ``num_buckets`` is ignored).
    """
    who = 'degree_buckets'
    if not isinstance(degree, Tensor) or degree.dim() != 1:
        raise ValueError(f'{who}: degree must be a 1-D tensor [N]')
    if edges is not None:
        e = torch.as_tensor(edges, dtype=torch.float64, device=degree.device).reshape(-1)
        if e.numel() > 1 and bool((e[1:] <= e[:-1]).any()):
            raise ValueError(f'{who}: edges must be strictly ascending (got {e.tolist()})')
        return torch.bucketize(degree.to(torch.float64), e, right=True)
    if not isinstance(num_buckets, int) or num_buckets < 1:
        raise ValueError(f'{who}: num_buckets must be a positive int (got {num_buckets!r})')
    n = degree.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=degree.device)
    srt = torch.sort(degree).values
    n_less = torch.searchsorted(srt, degree.contiguous(), right=False)
    return torch.clamp((num_buckets * n_less) // n, max=num_buckets - 1)


def coverage_balance(seed_nodes: Tensor, groups: Tensor, num_groups: int | None = None) -> dict:
    r"""How evenly seeds cover the groups (degree buckets, k-means clusters, ...) of one KG.

    With ``p_g`` the share of seeds whose entity is in group ``g`` and ``q_g`` the share of all
    entities in group ``g``, returns

    * ``'seed_count'``, ``'entity_count'``: per-group counts (lists of ``num_groups`` ints);
    * ``'seed_share'`` (``p``), ``'entity_share'`` (``q``): per-group fractions;
    * ``'tv_distance'``: total-variation distance ``0.5 * sum_g |p_g - q_g|`` in [0, 1]: 0 when seeds
      are spread in proportion to group sizes, near 1 when they all sit in a tiny group. ``nan`` when
      there are no seeds.

    Args:
        seed_nodes: ``[S]`` entity ids of one side of the seeds (e.g. ``seeds[0]`` for the source KG;
            a repeated id counts each time), or a ``bool`` mask ``[N]``.
        groups: ``[N]`` group id of every entity of that KG.
        num_groups: number of groups (default ``groups.max() + 1``).
    """
    who = 'coverage_balance'
    groups = as_index(groups, 'groups', who, 1).cpu()
    n = groups.numel()
    if num_groups is None:
        num_groups = int(groups.max()) + 1 if n else 0
    check_range(groups, num_groups, 'groups', 'num_groups', who)
    if isinstance(seed_nodes, Tensor) and seed_nodes.dtype == torch.bool:
        if seed_nodes.shape != (n,):
            raise ValueError(f'{who}: a bool seed_nodes mask must have shape [N]={n} '
                             f'(got {tuple(seed_nodes.shape)})')
        seed_nodes = seed_nodes.cpu().nonzero().view(-1)
    seed_nodes = as_index(seed_nodes, 'seed_nodes', who, 1).cpu()
    check_range(seed_nodes, n, 'seed_nodes', 'len(groups)', who)
    seed_count = torch.bincount(groups[seed_nodes], minlength=num_groups).double()
    ent_count = torch.bincount(groups, minlength=num_groups).double()
    s = seed_nodes.numel()
    p = seed_count / s if s else torch.zeros(num_groups, dtype=torch.float64, device=groups.device)
    q = ent_count / n if n else torch.zeros(num_groups, dtype=torch.float64, device=groups.device)
    tv = 0.5 * float((p - q).abs().sum()) if s and n else math.nan
    return {
        'seed_count': [int(c) for c in seed_count.tolist()],
        'entity_count': [int(c) for c in ent_count.tolist()],
        'seed_share': p.tolist(),
        'entity_share': q.tolist(),
        'tv_distance': tv,
    }
