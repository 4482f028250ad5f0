import logging
import time

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from psqe_pyg._init_args import args_repr
from psqe_pyg.ops.dense_match import greedy_dense_match
from psqe_pyg.pair.modalities import get_modalities
from psqe_pyg.pair.seeds import Seeds, set_history, set_seeds
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)


class VisualPivot(BaseTransform):
    r"""The EVA-style baseline: greedy one-to-one matching on the primary modality's global similarity
    (the image where an entity has one, else its name), up to ``budget`` pairs, written as
    ``('src', 'pseudo_seed', 'tgt')`` with ``stage = 0`` (and as the one stage ``'pivot'`` of
    :func:`~psqe_pyg.pair.get_history`).

    Args:
        budget: the number of seed pairs.
        seed: the order in which exactly tied pairs are taken
            (:func:`~psqe_pyg.ops.greedy_dense_match`).
    """
    def __init__(self, budget: int = D.BUDGET, *, seed: int = 0, backend: str = 'auto') -> None:
        if budget < 0:
            raise ValueError(f'budget must be >= 0, got {budget}')
        self.budget = budget
        self.seed = seed
        self.backend = backend

    def forward(self, data: HeteroData) -> HeteroData:
        start = time.perf_counter()
        src, tgt = get_modalities(data)
        if src.primary is None:
            raise ValueError("VisualPivot needs a primary modality: data['src'].x_img or .x_name")
        match = greedy_dense_match(src.primary, tgt.primary, self.budget, seed=self.seed, backend=self.backend)
        seeds = Seeds.of(match.row, match.col, match.score, stage=0)
        log.info('VisualPivot: %d seeds', len(seeds))
        return set_history(set_seeds(data, seeds), {'pivot': seeds}, {'pivot': time.perf_counter() - start})

    __repr__ = args_repr
