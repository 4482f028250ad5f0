import logging

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from psqe_pyg import ops
from psqe_pyg._init_args import args_repr
from psqe_pyg.ops.dense_match import greedy_dense_match
from psqe_pyg.ops.rows import select_rows
from psqe_pyg.pair.modalities import fused_pair, get_modalities, secondary_features
from psqe_pyg.pair.seeds import Seeds, set_seeds
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)


def cluster_quotas(src_cluster: Tensor, tgt_cluster: Tensor, num_clusters: int, budget: int) -> Tensor:
    r"""Seeds per cluster, proportional to its size over both KGs: ``[K]``.

    :math:`q_c = \lfloor B (|src_c| + |tgt_c|) / (N_{src} + N_{tgt}) \rfloor`, and 0 for a cluster that
    misses either KG.
    """
    n_src = torch.bincount(src_cluster, minlength=num_clusters)
    n_tgt = torch.bincount(tgt_cluster, minlength=num_clusters)
    total = src_cluster.numel() + tgt_cluster.numel()
    quota = torch.div(budget * (n_src + n_tgt), total, rounding_mode='floor')
    return torch.where((n_src > 0) & (n_tgt > 0), quota, torch.zeros_like(quota))


class ClusterResample(BaseTransform):
    r"""PSQE stage 1: fuse the modalities, cluster both KGs together with k-means and draw a seed budget
    over the clusters in proportion to their size (DESIGN §4, stage 1).

    Inside each cluster, source x target pairs are scored by ``match_on`` features and ``q_c`` pairs are
    taken by greedy one-to-one matching.

    Memory: the fused features of both KGs are one dense ``[N_src + N_tgt, d_fused]`` buffer (k-means takes
    dense rows), written in row tiles; sparse bags are never densified beyond a tile of
    :data:`~psqe_pyg.ops.rows.TILE_ELEMS` elements (the secondary features stay sparse and are scored tile by
    tile, :func:`~psqe_pyg.ops.sim_topk`). Writes ``('src', 'pseudo_seed', 'tgt')`` with ``stage = 1`` and the
    cluster of every entity as ``data['src'].cluster`` / ``data['tgt'].cluster`` ``[N]``. Never reads the
    gold links.

    Args:
        budget: the seed budget B.
        num_clusters: K, the number of k-means clusters over the entities of both KGs.
        weights: (primary, attribute, relation) weights of the fused features.
        match_on: ``'secondary'`` (the paper's [R || A]; falls back to the fused features when the pair
            has neither) or ``'fused'``.
        kmeans_iters: Lloyd iterations.
        seed: seeds the k-means++ initialisation.
        backend: ``psqe_pyg.ops`` backend.
    """
    def __init__(self, budget: int = D.BUDGET, num_clusters: int = D.NUM_CLUSTERS, *,
                 weights: tuple[float, float, float] = D.WEIGHTS, match_on: str = D.MATCH_ON,
                 kmeans_iters: int = 50, seed: int = 0, backend: str = 'auto') -> None:
        if budget < 0:
            raise ValueError(f'budget must be >= 0, got {budget}')
        if num_clusters < 1:
            raise ValueError(f'num_clusters must be >= 1, got {num_clusters}')
        if match_on not in ('secondary', 'fused'):
            raise ValueError(f"match_on must be 'secondary' or 'fused', got {match_on!r}")
        self.budget = budget
        self.num_clusters = num_clusters
        self.weights = tuple(weights)
        self.match_on = match_on
        self.kmeans_iters = kmeans_iters
        self.seed = seed
        self.backend = backend

    def forward(self, data: HeteroData) -> HeteroData:
        src, tgt = get_modalities(data)
        fused = fused_pair(src, tgt, self.weights)  # the one dense copy: k-means takes dense rows
        n_src = data['src'].num_nodes
        f_src, f_tgt = fused[:n_src], fused[n_src:]
        k = min(self.num_clusters, fused.size(0))
        result = ops.kmeans(fused, k, iters=self.kmeans_iters, seed=self.seed, backend=self.backend)
        c_src, c_tgt = result.assignment[:n_src], result.assignment[n_src:]
        quota = cluster_quotas(c_src, c_tgt, k, self.budget)

        m_src, m_tgt = f_src, f_tgt
        if self.match_on == 'secondary':
            s_src, s_tgt = secondary_features(src), secondary_features(tgt)
            if s_src is not None:
                m_src, m_tgt = s_src, s_tgt
            else:
                log.info('ClusterResample: the pair has no secondary modality; matching on fused features')

        seeds = Seeds.empty(f_src.device)
        for c in range(k):  # K is small (5): one greedy matching per cluster
            if quota[c] == 0:
                continue
            rows, cols = (c_src == c).nonzero().view(-1), (c_tgt == c).nonzero().view(-1)
            match = greedy_dense_match(select_rows(m_src, rows), select_rows(m_tgt, cols), int(quota[c]),
                                       seed=self.seed, backend=self.backend)
            seeds = seeds.cat(Seeds.of(rows[match.row], cols[match.col], match.score, stage=1))
        log.info('ClusterResample: %d seeds from %d clusters (quotas %s)', len(seeds), k, quota.tolist())

        data['src'].cluster = c_src
        data['tgt'].cluster = c_tgt
        return set_seeds(data, seeds)

    __repr__ = args_repr
