import logging
import time

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from psqe_pyg._init_args import args_repr
from psqe_pyg.pair.seeds import get_seeds, set_history
from psqe_pyg.transforms import defaults as D
from psqe_pyg.transforms.cluster_resample import ClusterResample
from psqe_pyg.transforms.error_correction import ErrorCorrection
from psqe_pyg.transforms.global_resample import GlobalResample
from psqe_pyg.transforms.neighborhood_expansion import NeighborhoodExpansion

log = logging.getLogger(__name__)


class PSQETransform(BaseTransform):
    r"""Pseudo-seed quality enhancement (Hong et al., KDD 2026): precise, evenly spread pseudo seeds for
    unsupervised entity alignment, written as ``('src', 'pseudo_seed', 'tgt')`` (DESIGN §4).

    Runs :class:`ClusterResample` (stage 1), :class:`GlobalResample` and :class:`ErrorCorrection`
    (stage 2), then :class:`NeighborhoodExpansion` and :class:`ErrorCorrection` again (stage 3). Never
    reads the gold links. The returned pair also carries the seeds after each step and each step's wall
    time (:func:`~psqe_pyg.pair.get_history`, for seed reports).

    Args:
        budget: seeds drawn by stage 1, and the most drawn by stage 2.
        num_clusters: k-means clusters of stage 1 (``0`` skips the clustering: one cluster).
        weights: (primary, attribute, relation) fusion weights used by every stage.
        match_on: stage 1's within-cluster matching features, ``'secondary'`` or ``'fused'``.
        epochs, lr, batch_size, temperature, hidden: stage 2's encoder training.
        expand: run stage 3.
        seed: seeds every random step.
        progress: show progress bars.

    Use it as a dataset's ``pre_transform=`` (runs once, cached under a key of every argument,
    :attr:`init_args`) rather than ``transform=`` (reruns on every access). ``PSQE`` is an alias.
    """
    def __init__(self, budget: int = D.BUDGET, num_clusters: int = D.NUM_CLUSTERS, *,
                 weights: tuple[float, float, float] = D.WEIGHTS, match_on: str = D.MATCH_ON,
                 epochs: int = D.EPOCHS, lr: float = D.LR, batch_size: int = D.BATCH_SIZE,
                 temperature: float = D.TEMPERATURE, hidden: int = D.HIDDEN, expand: bool = True,
                 eta_start: float = D.ETA_START, eta_span: float = D.ETA_SPAN, k_start: float = D.K_START,
                 k_span: float = D.K_SPAN, seed: int = 0, progress: bool = True, backend: str = 'auto') -> None:
        # every constructor argument, for repr and the processed-cache key of pre_transform=
        self.init_args = {k: v for k, v in locals().items() if k not in ('self', '__class__')}
        self.steps = [
            ('stage1', ClusterResample(budget, max(num_clusters, 1), weights=weights, match_on=match_on,
                                       seed=seed, backend=backend)),
            ('stage2', GlobalResample(budget, weights=weights, hidden=hidden, epochs=epochs, lr=lr,
                                      batch_size=batch_size, temperature=temperature, seed=seed,
                                      progress=progress, backend=backend)),
            ('stage2_correction', ErrorCorrection(weights=weights, backend=backend)),
        ]
        if expand:
            self.steps += [
                ('stage3', NeighborhoodExpansion(weights=weights, eta_start=eta_start, eta_span=eta_span,
                                                 k_start=k_start, k_span=k_span, seed=seed, backend=backend)),
                ('stage3_correction', ErrorCorrection(weights=weights, backend=backend)),
            ]

    def forward(self, data: HeteroData) -> HeteroData:
        stages, seconds = {}, {}
        for name, step in self.steps:
            start = time.perf_counter()
            data = step(data)
            seconds[name] = time.perf_counter() - start
            stages[name] = get_seeds(data)
            log.info('PSQE %s: %d seeds in %.1f s', name, len(stages[name]), seconds[name])
        return set_history(data, stages, seconds)

    __repr__ = args_repr


PSQE = PSQETransform
