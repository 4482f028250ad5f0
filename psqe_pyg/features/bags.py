r"""Bag-of-relations and bag-of-attributes entity features (the ``x_rel`` and ``x_attr`` modalities).

Relation ids and attribute URIs are local to each KG, so the two KGs' columns cannot be matched by id.
The bags here make the columns of the two KGs comparable without any alignment information:

* :func:`relation_bag` orders each KG's relation types by frequency, so column ``j`` of both KGs'
  bags is "the j-th most frequent relation type of this KG" (the convention of the PSQE/EVA
  reference code);
* :func:`attribute_vocab` builds one shared vocabulary of normalised attribute local names
  (``http://dbpedia.org/property/birthDate`` -> ``birthdate``) over both KGs, which lines up the
  attributes that share a name.

All functions are deterministic (ties broken by id or alphabetically) and return coalesced sparse COO
``float32`` tensors ``[N, vocabulary]`` (memory O(nonzeros), never ``N x vocabulary``; ``.to_dense()`` gives
the matrix); normalise them before use (PSQE does, with :func:`psqe_pyg.ops.rows.normalize_rows`).
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import torch
from torch import Tensor

from psqe_pyg._checks import as_index, check_range

__all__ = [
    'attribute_bag',
    'attribute_vocab',
    'normalize_attribute',
    'relation_bag',
    'relation_frequency_order',
]

def _sparse_counts(row: Tensor, col: Tensor, shape: tuple[int, int], device: torch.device) -> Tensor:
    """Coalesced sparse COO ``float32`` ``shape``: the number of times each ``(row, col)`` occurs."""
    ones = torch.ones(row.numel(), dtype=torch.float32, device=device)
    return torch.sparse_coo_tensor(torch.stack([row, col]), ones, shape, device=device,
                                   check_invariants=False).coalesce()


def relation_frequency_order(edge_type: Tensor, num_relations: int) -> Tensor:
    """Relation ids of one KG sorted by descending frequency in ``edge_type``, ties by ascending id.

    Returns a ``long`` tensor ``[num_relations]`` (relations that never occur come last).
    """
    edge_type = as_index(edge_type, 'edge_type', 'relation_frequency_order', 1)
    check_range(edge_type, num_relations, 'edge_type', 'num_relations', 'relation_frequency_order')
    counts = torch.bincount(edge_type.cpu(), minlength=num_relations)
    # A stable sort on the negated counts keeps equal counts in ascending id order.
    return torch.sort(-counts, stable=True).indices


def relation_bag(edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_relations: int,
                 dim: int = 1000) -> Tensor:
    r"""Bag of incident relation types per entity -> sparse COO ``float32`` ``[num_nodes, dim]`` of edge counts.

    Only the ``dim // 2`` most frequent relation types of this KG are kept, ordered by descending
    frequency (ties by ascending relation id; see :func:`relation_frequency_order`):

    * column ``j`` (``0 <= j < dim // 2``): number of edges of the j-th most frequent relation type
      leaving the entity (entity is the head, ``edge_index[0]``);
    * column ``dim // 2 + j``: number of edges of that type entering it (entity is the tail).

    Because columns are frequency ranks rather than relation ids, the bags of the two KGs share one
    dimension with a comparable meaning (rank j in KG1 vs rank j in KG2), with no alignment needed.
    If the KG has fewer than ``dim // 2`` relation types the remaining columns are zero; edges of types
    beyond the cut are ignored. A self-loop counts once as outgoing and once as incoming. The output
    is raw counts (not normalised), a coalesced sparse COO tensor on ``edge_index``'s device (memory
    O(E), never ``num_nodes x dim``).

    Args:
        edge_index: ``[2, E]`` head -> tail, local entity ids in ``[0, num_nodes)``.
        edge_type: ``[E]`` relation ids in ``[0, num_relations)``.
        num_nodes: number of entities N of this KG.
        num_relations: number of relation types of this KG.
        dim: output width, a positive even number (default 1000 = top 500 relation types x in/out).
    """
    who = 'relation_bag'
    if not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f'{who}: dim must be a positive even int (got {dim!r})')
    if not isinstance(num_nodes, int) or num_nodes < 0:
        raise ValueError(f'{who}: num_nodes must be a non-negative int (got {num_nodes!r})')
    if not isinstance(num_relations, int) or num_relations < 0:
        raise ValueError(f'{who}: num_relations must be a non-negative int (got {num_relations!r})')
    edge_index = as_index(edge_index, 'edge_index', who, 2)
    edge_type = as_index(edge_type, 'edge_type', who, 1)
    if edge_index.size(0) != 2:
        raise ValueError(f'{who}: edge_index must have shape [2, E] (got {tuple(edge_index.shape)})')
    if edge_type.numel() != edge_index.size(1):
        raise ValueError(f'{who}: edge_type has {edge_type.numel()} entries but edge_index has '
                         f'{edge_index.size(1)} edges')
    check_range(edge_index, num_nodes, 'edge_index', 'num_nodes', who)
    check_range(edge_type, num_relations, 'edge_type', 'num_relations', who)

    device = edge_index.device
    half = dim // 2
    if edge_type.numel() == 0 or num_nodes == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return _sparse_counts(empty, empty, (num_nodes, dim), device)
    order = relation_frequency_order(edge_type, num_relations)[:half].to(device)
    rank = torch.full((num_relations,), -1, dtype=torch.long, device=device)
    rank[order] = torch.arange(order.numel(), device=device)
    r = rank[edge_type.to(device)]
    keep = r >= 0
    r, head, tail = r[keep], edge_index[0, keep], edge_index[1, keep]
    return _sparse_counts(torch.cat([head, tail]), torch.cat([r, half + r]), (num_nodes, dim), device)


def normalize_attribute(name: str) -> str:
    """Normalised local name of an attribute URI: the last path segment or fragment, lowercased.

    ``'http://dbpedia.org/property/birthDate'`` -> ``'birthdate'``,
    ``'<http://xmlns.com/foaf/0.1/name>'`` -> ``'name'``, ``'rdfs:label'`` -> ``'label'``,
    ``'Population'`` -> ``'population'``. Surrounding whitespace and angle brackets and trailing
    ``/`` or ``#`` are dropped; the result may be ``''`` (such attributes are ignored by the bags).
    """
    s = name.strip().strip('<>').strip().rstrip('/#')
    for sep in ('#', '/'):
        s = s.rsplit(sep, 1)[-1]
    if ':' in s and not s.startswith(':'):  # CURIE such as rdfs:label / dbo:birthDate
        s = s.rsplit(':', 1)[-1]
    return s.strip().lower()


def _normalized_sets(attrs: Sequence[Iterable[str]] | None, name: str, who: str) -> list[list[str]]:
    if attrs is None:
        return []
    if isinstance(attrs, str):
        raise TypeError(f'{who}: {name} must be a list (one list of attribute names per entity)')
    out: list[list[str]] = []
    for i, row in enumerate(attrs):
        if row is None:
            out.append([])
            continue
        if isinstance(row, str):
            raise TypeError(f'{who}: {name}[{i}] is a string; expected a list of attribute names')
        names: list[str] = []
        for a in row:
            if not isinstance(a, str):
                raise TypeError(f'{who}: {name}[{i}] holds a {type(a).__name__}, expected str')
            a = normalize_attribute(a)
            if a:
                names.append(a)
        out.append(names)
    return out


def attribute_vocab(attrs_src: Sequence[Iterable[str]], attrs_tgt: Sequence[Iterable[str]] | None = None,
                    max_size: int = 1000) -> list[str]:
    r"""Shared vocabulary of attribute names over both KGs -> ``list[str]`` of at most ``max_size``.

    Every attribute is reduced to its normalised local name (:func:`normalize_attribute`). Frequency is
    the number of entities, over both KGs together, that have the attribute (an entity listing it
    twice counts once). The ``max_size`` most frequent names are kept, most frequent first, ties in
    alphabetical order.

    Args:
        attrs_src, attrs_tgt: one list of attribute names/URIs per entity of each KG (``None`` entries
            or an empty list for entities without attributes; ``attrs_tgt`` may be ``None``).
        max_size: vocabulary size cap.
    """
    who = 'attribute_vocab'
    if not isinstance(max_size, int) or max_size < 0:
        raise ValueError(f'{who}: max_size must be a non-negative int (got {max_size!r})')
    counts: Counter[str] = Counter()
    for name, attrs in (('attrs_src', attrs_src), ('attrs_tgt', attrs_tgt)):
        for row in _normalized_sets(attrs, name, who):
            counts.update(set(row))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [a for a, _ in ranked[:max_size]]


def attribute_bag(attrs: Sequence[Iterable[str]], vocab: Sequence[str], *, binary: bool = True) -> Tensor:
    r"""Bag of attributes per entity -> sparse COO ``float32`` ``[len(attrs), len(vocab)]`` (coalesced).

    Column ``j`` is ``vocab[j]`` (from :func:`attribute_vocab`); attribute names and vocabulary entries
    are normalised with :func:`normalize_attribute` before lookup and names outside the vocabulary are ignored. With
    ``binary=True`` (default) an entry is 1 when the entity has the attribute at least once, else 0;
    with ``binary=False`` it is the number of times the entity lists it.
    """
    who = 'attribute_bag'
    if isinstance(vocab, str):
        raise TypeError(f'{who}: vocab must be a list of strings')
    col = {}
    for j, a in enumerate(vocab):
        if not isinstance(a, str):
            raise TypeError(f'{who}: vocab[{j}] is {type(a).__name__}, expected str')
        key = normalize_attribute(a)
        if key in col:
            raise ValueError(f'{who}: vocab[{j}]={a!r} repeats vocab[{col[key]}] after normalisation')
        col[key] = j
    sets = _normalized_sets(attrs, 'attrs', who)
    pairs = [(i, col[a]) for i, row in enumerate(sets) for a in row if a in col]
    idx = torch.tensor(pairs, dtype=torch.long, device='cpu').view(-1, 2).t()
    out = _sparse_counts(idx[0], idx[1], (len(sets), len(col)), torch.device('cpu'))
    if binary:
        out = torch.sparse_coo_tensor(out.indices(), torch.ones_like(out.values()), out.shape,
                                      is_coalesced=True, check_invariants=False)
    return out
