"""PSQE as PyG transforms, one file per stage (DESIGN §4), the EVA-style pivot baseline, and the name
n-gram stand-in for attribute features. Every seed generator writes ``('src', 'pseudo_seed', 'tgt')``
(:mod:`psqe_pyg.pair.seeds`)."""
from psqe_pyg._deprecation import moved
from psqe_pyg.pair.seeds import Seeds, get_seeds, set_seeds
from psqe_pyg.transforms.cluster_resample import ClusterResample
from psqe_pyg.transforms.error_correction import ErrorCorrection
from psqe_pyg.transforms.global_resample import GlobalResample
from psqe_pyg.transforms.name_ngrams import NameNgramFeatures
from psqe_pyg.transforms.neighborhood_expansion import NeighborhoodExpansion
from psqe_pyg.transforms.psqe import PSQE, PSQETransform
from psqe_pyg.transforms.visual_pivot import VisualPivot

__getattr__ = moved(__name__, (), renamed={'SEED_EDGE': 'psqe_pyg.pair.schema:PSEUDO_SEED'})

__all__ = [
    'ClusterResample', 'GlobalResample', 'ErrorCorrection', 'NeighborhoodExpansion', 'VisualPivot',
    'PSQE', 'PSQETransform', 'NameNgramFeatures', 'Seeds', 'get_seeds', 'set_seeds'
]
