r"""The KG pair as one :class:`~torch_geometric.data.HeteroData`: its schema, the builders that make
one, and the accessors every later layer reads it with.

=========================================  ====================================================
:func:`build_pair` / :class:`KGSide`       assemble a validated pair :class:`HeteroData`
:func:`validate_pair`                      check a pair against the schema (names the tensor)
:func:`pair_from_raw`                      :class:`~psqe_pyg.readers.RawPair` -> pair
:func:`from_pyg_dbp15k`                    ``torch_geometric.datasets.DBP15K`` -> pair
:func:`generate_synthetic_pair`            a generated pair with known truth
:func:`get_modalities`, :func:`pair_features`  the modality blocks (primary, attributes, relations)
:class:`Seeds`, :func:`get_seeds`, ...     the ``('src', 'pseudo_seed', 'tgt')`` edges; :func:`get_history`
                                           the seeds after every stage of the generator that made them
:func:`csr_neighbors`, ...                 views of the relation graphs
``SIDES``, ``REL``, ``SAME_AS``, ``PSEUDO_SEED``  the node and edge types
=========================================  ====================================================
"""
from psqe_pyg.pair.from_raw import pair_from_raw, random_split_masks
from psqe_pyg.pair.generator import SYNTHETIC_DEFAULTS, generate_synthetic_pair
from psqe_pyg.pair.graph import csr_neighbors, pair_device, undirected_edge_index, union_edge_index
from psqe_pyg.pair.interop import from_pyg_dbp15k
from psqe_pyg.pair.modalities import (
    MODALITIES,
    Modalities,
    fuse,
    fused_features,
    fused_pair,
    get_modalities,
    image_mask,
    pair_features,
    secondary_features,
)
from psqe_pyg.pair.schema import (
    PSEUDO_SEED,
    REL,
    SAME_AS,
    SIDES,
    KGSide,
    PairValidationError,
    build_pair,
    validate_pair,
)
from psqe_pyg.pair.seeds import Seeds, get_history, get_seeds, set_history, set_seeds

__all__ = [
    'KGSide',
    'MODALITIES',
    'Modalities',
    'PSEUDO_SEED',
    'PairValidationError',
    'REL',
    'SAME_AS',
    'SIDES',
    'SYNTHETIC_DEFAULTS',
    'Seeds',
    'build_pair',
    'csr_neighbors',
    'from_pyg_dbp15k',
    'fuse',
    'fused_features',
    'fused_pair',
    'generate_synthetic_pair',
    'get_modalities',
    'get_history',
    'get_seeds',
    'image_mask',
    'pair_device',
    'pair_features',
    'pair_from_raw',
    'random_split_masks',
    'secondary_features',
    'set_history',
    'set_seeds',
    'undirected_edge_index',
    'union_edge_index',
    'validate_pair',
]
