import logging
import math
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import index_to_mask

from psqe_pyg import ops
from psqe_pyg._init_args import args_repr
from psqe_pyg.ops.matching import tie_break_rank
from psqe_pyg.ops.rows import gather_rows, to_csr
from psqe_pyg.pair.graph import csr_neighbors
from psqe_pyg.pair.modalities import Modalities, get_modalities
from psqe_pyg.pair.seeds import Seeds, get_seeds, set_seeds
from psqe_pyg.transforms import defaults as D
from psqe_pyg.transforms.global_resample import learned_views

log = logging.getLogger(__name__)


class Candidates(NamedTuple):
    seed: Tensor  # [C] position of the expanded seed in the seed list
    src: Tensor  # [C]
    tgt: Tensor  # [C]
    score: Tensor  # [C]


#: Most elements of one stage-3 scoring block (scores plus gathered features), default ``2**25``.
BLOCK_ELEMS = 1 << 25

RowFeatures = Callable[[Tensor], Tensor]  # ids [n] -> dense features [n, D]


def expansion_features(mods: Modalities, views: dict[str, Tensor],
                       weights: tuple[float, float, float], rows: Tensor) -> Tensor:
    r"""Features of the entities ``rows`` whose inner product is the stage-3 score
    :math:`\sum_m w_m \cos_m / \sum_m w_m`, where each cosine compares n([n(raw_m) || n(learned_m)]) (just
    n(raw_m) when no view was learned): dense ``[len(rows), D]``, computed from those rows only (sparse bags
    are gathered, never densified whole).

    Modalities the pair lacks drop out and the remaining weights are renormalised.
    """
    blocks = [(mods.primary, views.get('gat'), weights[0]), (mods.attr, views.get('attr'), weights[1]),
              (mods.rel, views.get('rel'), weights[2])]
    blocks = [(raw, learned, w) for raw, learned, w in blocks if raw is not None and w > 0]
    total = sum(w for _, _, w in blocks)
    parts = []
    for raw, learned, w in blocks:
        x = gather_rows(raw, rows)
        if learned is not None:
            x = torch.cat([F.normalize(x, dim=-1), F.normalize(learned[rows], dim=-1)], -1)
        parts.append(math.sqrt(w / total) * F.normalize(x, dim=-1))
    return torch.cat(parts, dim=-1)


def _padded_neighbors(rowptr: Tensor, col: Tensor, nodes: Tensor, width: int) -> tuple[Tensor, Tensor]:
    """Neighbour lists of ``nodes [c]`` padded to ``width``: ids ``[c, width]`` and validity mask."""
    offset = torch.arange(width, device=rowptr.device)
    valid = offset.unsqueeze(0) < (rowptr[nodes + 1] - rowptr[nodes]).unsqueeze(1)
    idx = (rowptr[nodes].unsqueeze(1) + offset).clamp(max=max(col.numel() - 1, 0))
    return col[idx] if col.numel() > 0 else torch.zeros_like(idx), valid


def _block_candidates(seed_idx: Tensor, a: Tensor, a_ok: Tensor, b: Tensor, b_ok: Tensor, feat_src: RowFeatures,
                      feat_tgt: RowFeatures, threshold: Tensor, free_src: Tensor, free_tgt: Tensor) -> Candidates:
    """The candidates of one block: seeds ``seed_idx [c]`` with neighbour ids ``a [c, p]``, ``b [c, q]`` (and their
    validity masks), scored with one batched product ``[c, p, q]``."""
    c, p, q = a.size(0), a.size(1), b.size(1)
    g_a = feat_src(a.reshape(-1)).view(c, p, -1)
    g_b = feat_tgt(b.reshape(-1)).view(c, q, -1)
    score = torch.bmm(g_a, g_b.transpose(1, 2))  # [c, p, q]
    ok = (a_ok & free_src[a]).unsqueeze(2) & (b_ok & free_tgt[b]).unsqueeze(1)
    ok &= score >= threshold[seed_idx].view(-1, 1, 1)
    i, pp, qq = ok.nonzero(as_tuple=True)
    return Candidates(seed_idx[i], a[i, pp], b[i, qq], score[i, pp, qq])


def _split_sizes(deg_u: int, deg_v: int, dim: int, max_elems: int) -> tuple[int, int]:
    """Slice lengths ``(p, q)`` of one seed's ``N(u)`` and ``N(v)`` with ``p q + (p + q) dim <= max_elems``."""
    side = max(1, int(math.isqrt(dim * dim + max_elems)) - dim)  # p = q = side fits
    p = min(deg_u, side)
    q = min(deg_v, max(1, (max_elems - p * dim) // (p + dim)))
    return p, q


def expansion_candidates(seeds: Tensor, nbr_src: tuple[Tensor, Tensor], nbr_tgt: tuple[Tensor, Tensor],
                         feat_src: RowFeatures, feat_tgt: RowFeatures, threshold: Tensor, free_src: Tensor,
                         free_tgt: Tensor, max_elems: int = BLOCK_ELEMS) -> Candidates:
    """Every pair of ``N(u) x N(v)`` over the seeds ``(u, v)`` of ``seeds [2, M]`` whose two ends are free and
    whose score clears the seed's ``threshold [M]``; ``feat_src`` / ``feat_tgt`` give the features of the rows a
    block needs (:func:`expansion_features`).

    Seeds are bucketed by the powers of two of their degrees and each bucket is scored with batched matrix
    products over padded neighbour lists, in blocks of at most ``max_elems`` elements (scores ``p x q`` plus the
    gathered features ``(p + q) x D`` per seed). A seed whose own block would exceed it (a hub, degrees of
    ``10^5`` and more) is split into slices of ``N(u)`` and ``N(v)`` that fit, so no block exceeds
    ``max(max_elems, 1 + 2 D)`` elements whatever the degrees. The candidate list itself grows with the number
    of pairs that clear the threshold.
    """
    (rp_s, col_s), (rp_t, col_t) = nbr_src, nbr_tgt
    dim = feat_src(seeds.new_zeros(0)).size(1)
    u, v = seeds
    deg_u, deg_v = rp_s[u + 1] - rp_s[u], rp_t[v + 1] - rp_t[v]
    active = ((deg_u > 0) & (deg_v > 0)).nonzero().view(-1)
    log_u = torch.ceil(torch.log2(deg_u[active].double())).long()
    log_v = torch.ceil(torch.log2(deg_v[active].double())).long()
    bucket = log_u * 64 + log_v
    out = []
    for key in torch.unique(bucket).tolist():
        members = active[bucket == key]
        wu, wv = 1 << (key // 64), 1 << (key % 64)
        per_seed = wu * wv + (wu + wv) * dim
        if per_seed <= max_elems:
            chunk = max_elems // per_seed
            for start in range(0, members.numel(), chunk):
                idx = members[start:start + chunk]
                a, a_ok = _padded_neighbors(rp_s, col_s, u[idx], wu)
                b, b_ok = _padded_neighbors(rp_t, col_t, v[idx], wv)
                out.append(_block_candidates(idx, a, a_ok, b, b_ok, feat_src, feat_tgt, threshold, free_src,
                                             free_tgt))
            continue
        for i in members.tolist():  # one seed too large for a block: slices of its neighbour lists
            nu, nv = int(deg_u[i]), int(deg_v[i])
            p, q = _split_sizes(nu, nv, dim, max_elems)
            idx = members.new_full((1,), i)
            for a0 in range(0, nu, p):
                a = col_s[int(rp_s[u[i]]) + a0:int(rp_s[u[i]]) + min(a0 + p, nu)].view(1, -1)
                for b0 in range(0, nv, q):
                    b = col_t[int(rp_t[v[i]]) + b0:int(rp_t[v[i]]) + min(b0 + q, nv)].view(1, -1)
                    out.append(_block_candidates(idx, a, torch.ones_like(a, dtype=torch.bool), b,
                                                 torch.ones_like(b, dtype=torch.bool), feat_src, feat_tgt,
                                                 threshold, free_src, free_tgt))
    if not out:
        empty = torch.empty(0, dtype=torch.long, device=seeds.device)
        return Candidates(empty, empty, empty, threshold.new_empty(0))
    return Candidates(*(torch.cat(parts) for parts in zip(*out)))


class NeighborhoodExpansion(BaseTransform):
    r"""PSQE stage 3: grow the seeds into their neighbourhoods (DESIGN §4, stage 3).

    For the seed ``(u, v)`` at position ``i`` of the ``M`` seeds, the candidates are ``N(u) x N(v)`` in the
    undirected relation graphs, scored by :func:`expansion_features`. Walking the seeds in order and each
    seed's candidates by descending score (ties: in a random order of sources, then of targets, drawn from
    ``seed`` by :func:`~psqe_pyg.ops.matching.tie_break_order`), a candidate is added
    when it clears :math:`\eta_i = \eta_0 + \Delta\eta \cdot i / M`, neither end is a seed yet, and its seed
    has added fewer than :math:`k_i = \lfloor k_0 - \Delta k \cdot i / M \rfloor`. Candidate generation,
    scoring and the walk are batched over all seeds at once. Adds seeds with ``stage = 3``.

    Memory: the features are computed only for the neighbours a scoring block needs, and no block holds more
    than ``max_block_elems`` elements (default :data:`BLOCK_ELEMS` = ``2**25``) whatever the degrees: a hub
    seed's ``N(u) x N(v)`` is split into slices (:func:`expansion_candidates`).

    Args:
        weights: (primary, attribute, relation) weights of the score.
        eta_start, eta_span: :math:`\eta_0` and :math:`\Delta\eta`.
        k_start, k_span: :math:`k_0` and :math:`\Delta k`.
        seed: the tie-breaking order's seed.
        max_block_elems: the element budget of one scoring block.
    """
    def __init__(self, *, weights: tuple[float, float, float] = D.WEIGHTS, eta_start: float = D.ETA_START,
                 eta_span: float = D.ETA_SPAN, k_start: float = D.K_START, k_span: float = D.K_SPAN, seed: int = 0,
                 backend: str = 'auto', max_block_elems: int = BLOCK_ELEMS) -> None:
        self.weights = tuple(weights)
        self.eta_start, self.eta_span = eta_start, eta_span
        self.k_start, self.k_span = k_start, k_span
        self.seed = seed
        self.backend = backend
        self.max_block_elems = max_block_elems

    def forward(self, data: HeteroData) -> HeteroData:
        seeds = get_seeds(data)
        m = len(seeds)
        if m == 0:
            return data
        # sparse bags as CSR: the blocks gather their rows without a pass over the whole bag
        src, tgt = (Modalities(*(b if b is None else to_csr(b) for b in mods))
                    for mods in get_modalities(data))
        views_src, views_tgt = learned_views(data, 'src'), learned_views(data, 'tgt')
        feat_src = lambda rows: expansion_features(src, views_src, self.weights, rows)  # noqa: E731
        feat_tgt = lambda rows: expansion_features(tgt, views_tgt, self.weights, rows)  # noqa: E731
        device = seeds.edge_index.device
        pos = torch.arange(m, dtype=torch.float64, device=device) / m
        threshold = (self.eta_start + self.eta_span * pos).to(next(b for b in src if b is not None).dtype)
        quota = (self.k_start - self.k_span * pos).floor().long().clamp(min=0)

        free_src = ~index_to_mask(seeds.edge_index[0], size=data['src'].num_nodes)
        free_tgt = ~index_to_mask(seeds.edge_index[1], size=data['tgt'].num_nodes)
        cand = expansion_candidates(seeds.edge_index, csr_neighbors(data, 'src'), csr_neighbors(data, 'tgt'),
                                    feat_src, feat_tgt, threshold, free_src, free_tgt, self.max_block_elems)

        # Walk order: seed position, then score descending, then (src, tgt) in the tie-breaking order.
        src_rank = tie_break_rank(data['src'].num_nodes, self.seed, cand.src.device)
        tgt_rank = tie_break_rank(data['tgt'].num_nodes, self.seed + 1, cand.tgt.device)
        order = torch.argsort(tgt_rank[cand.tgt], stable=True)
        order = order[torch.argsort(src_rank[cand.src[order]], stable=True)]
        order = order[torch.argsort(cand.score[order], descending=True, stable=True)]
        order = order[torch.argsort(cand.seed[order], stable=True)]
        cand = Candidates(*(t[order] for t in cand))
        rank = torch.arange(cand.seed.numel(), 0, -1, dtype=torch.float64,
                            device=cand.seed.device)  # a descending key in walk order
        accepted = ops.greedy_match(cand.src, cand.tgt, rank, group=cand.seed, group_limit=quota)
        added = Seeds.of(cand.src[accepted], cand.tgt[accepted], cand.score[accepted], stage=3)
        log.info('NeighborhoodExpansion: %d candidates, %d added', cand.seed.numel(), len(added))
        return set_seeds(data, seeds.cat(added))

    __repr__ = args_repr
