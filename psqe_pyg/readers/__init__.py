r"""Strict, located readers of the entity-alignment file formats: every malformed line is a
:class:`DataFormatError` naming the file, the line and what was expected.

=========================================  ====================================================
:func:`read_entity_ids` ...                JAPE / RSN / MCLEA / OpenEA files, one reader per format
:func:`read_layout`                        a folder (OpenEA or id layout) -> :class:`RawPair`
:func:`load_image_features`                EVA-style ``{global_id: vector}`` image pickles (restricted
                                           unpickler: plain containers and numpy arrays only)
=========================================  ====================================================
"""
from psqe_pyg.readers.images import file_digest, image_matrix, load_image_features, read_image_dict
from psqe_pyg.readers.io import (
    DataFormatError,
    EntityTable,
    check_file,
    count_blank_lines,
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
from psqe_pyg.readers.layouts import (
    FOLDS_DIR,
    LAYOUTS,
    RawKG,
    RawPair,
    check_disjoint,
    detect_layout,
    names_from_json,
    read_id_layout,
    read_layout,
    read_openea_layout,
)

__all__ = [
    'DataFormatError',
    'EntityTable',
    'FOLDS_DIR',
    'LAYOUTS',
    'RawKG',
    'RawPair',
    'check_disjoint',
    'check_file',
    'count_blank_lines',
    'detect_layout',
    'file_digest',
    'image_matrix',
    'load_image_features',
    'names_from_json',
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
]
