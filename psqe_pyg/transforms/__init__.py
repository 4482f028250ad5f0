from psqe_pyg.transforms.cluster_resample import ClusterResample
from psqe_pyg.transforms.global_resample import GlobalResample
from psqe_pyg.transforms.error_correction import ErrorCorrection
from psqe_pyg.transforms.neighborhood_expansion import NeighborhoodExpansion
from psqe_pyg.transforms.visual_pivot import VisualPivot
from psqe_pyg.transforms.name_ngrams import NameNgramFeatures
from psqe_pyg.transforms.psqe import PSQE, PSQETransform
from psqe_pyg.transforms.seeds import SEED_EDGE, Seeds, get_seeds, set_seeds

__all__ = [
    'ClusterResample', 'GlobalResample', 'ErrorCorrection', 'NeighborhoodExpansion', 'VisualPivot',
    'PSQE', 'PSQETransform', 'NameNgramFeatures', 'SEED_EDGE', 'Seeds', 'get_seeds', 'set_seeds'
]
