import logging

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from psqe_pyg import ops
from psqe_pyg._init_args import args_repr
from psqe_pyg.pair.modalities import fused_features, get_modalities
from psqe_pyg.pair.seeds import get_seeds, set_seeds
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)


class ErrorCorrection(BaseTransform):
    r"""PSQE error correction (DESIGN §4, stage 2.3): scores every seed source against every seed target on
    the raw fused features and drops each pair whose partner is not its source's best (ties keep the pair).

    Args:
        weights: (primary, attribute, relation) weights of the fused features.
        tol: scores within ``tol`` of the best count as ties.
    """
    def __init__(self, *, weights: tuple[float, float, float] = D.WEIGHTS, tol: float = 1e-6,
                 backend: str = 'auto') -> None:
        self.weights = tuple(weights)
        self.tol = tol
        self.backend = backend

    def forward(self, data: HeteroData) -> HeteroData:
        seeds = get_seeds(data)
        if len(seeds) == 0:
            return data
        src, tgt = get_modalities(data)
        f_src = fused_features(src, self.weights, rows=seeds.edge_index[0])  # [S, d]: the seeds' rows only
        f_tgt = fused_features(tgt, self.weights, rows=seeds.edge_index[1])
        best = ops.sim_topk(f_src, f_tgt, 1, backend=self.backend).values[:, 0]
        own = (f_src * f_tgt).sum(dim=-1)
        keep = own >= best - self.tol
        log.info('ErrorCorrection: dropped %d of %d seeds', int((~keep).sum()), len(seeds))
        return set_seeds(data, seeds.select(keep))

    __repr__ = args_repr
