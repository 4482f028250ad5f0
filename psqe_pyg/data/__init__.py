r"""The KG-pair data model: schema helpers, strict file readers, image features, synthetic pairs.

=========================================  ====================================================
:func:`build_pair` / :class:`KGSide`       assemble a validated pair :class:`HeteroData`
:func:`validate_pair`                      check a pair against the schema (names the tensor)
:func:`read_entity_ids` ...                readers for the JAPE / RSN / MCLEA / OpenEA file formats
:func:`read_layout`                        a folder (OpenEA or id layout) -> :class:`RawPair`
:func:`pair_from_raw`                      :class:`RawPair` -> pair :class:`HeteroData`
:func:`from_pyg_dbp15k`                    ``torch_geometric.datasets.DBP15K`` -> pair
:func:`load_image_features`                EVA-style ``{global_id: vector}`` image pickles
:func:`generate_synthetic_pair`            a generated pair with known truth
:class:`DataFormatError`                   malformed input (file, line, what was expected)
=========================================  ====================================================
"""
from psqe_pyg.data.images import file_digest, image_matrix, load_image_features, read_image_dict
from psqe_pyg.data.interop import from_pyg_dbp15k
from psqe_pyg.data.io import (
    DataFormatError,
    EntityTable,
    check_file,
    read_attrs,
    read_entity_ids,
    read_links,
    read_names,
    read_rel_ids,
    read_string_triples,
    read_translated_names,
    read_triples,
    uri_local_name,
)
from psqe_pyg.data.layouts import (
    LAYOUTS,
    RawKG,
    RawPair,
    detect_layout,
    pair_from_raw,
    random_split_masks,
    read_id_layout,
    read_layout,
    read_openea_layout,
)
from psqe_pyg.data.pair import (
    PSEUDO_SEED,
    REL,
    SAME_AS,
    SIDES,
    KGSide,
    PairValidationError,
    build_pair,
    validate_pair,
)
from psqe_pyg.data.synthetic import SYNTHETIC_DEFAULTS, generate_synthetic_pair

__all__ = [
    'DataFormatError',
    'EntityTable',
    'KGSide',
    'LAYOUTS',
    'PSEUDO_SEED',
    'PairValidationError',
    'REL',
    'RawKG',
    'RawPair',
    'SAME_AS',
    'SIDES',
    'SYNTHETIC_DEFAULTS',
    'build_pair',
    'check_file',
    'detect_layout',
    'from_pyg_dbp15k',
    'file_digest',
    'generate_synthetic_pair',
    'image_matrix',
    'load_image_features',
    'pair_from_raw',
    'random_split_masks',
    'read_attrs',
    'read_entity_ids',
    'read_id_layout',
    'read_image_dict',
    'read_layout',
    'read_links',
    'read_names',
    'read_openea_layout',
    'read_rel_ids',
    'read_string_triples',
    'read_translated_names',
    'read_triples',
    'uri_local_name',
    'validate_pair',
]
