r"""Modality feature builders: names -> text embeddings, relation and attribute bags.

=====================================  =========================================================
:func:`encode_names`                   names -> ``[N, 384]`` (MiniLM) or ``[N, 512]`` (hashing)
:class:`HashingTextEncoder`            dependency-free character n-gram hashing encoder
:func:`resolve_name_encoder`           ``'auto'`` -> ``'minilm'`` or ``'hash'``
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
    encode_names,
    minilm_available,
    minilm_model_path,
    resolve_name_encoder,
)

__all__ = [
    'MINILM_DIM',
    'HashingTextEncoder',
    'attribute_bag',
    'attribute_vocab',
    'encode_names',
    'minilm_available',
    'minilm_model_path',
    'normalize_attribute',
    'relation_bag',
    'relation_frequency_order',
    'resolve_name_encoder',
]
