r"""The KG-pair :class:`~torch_geometric.data.HeteroData` schema: building and validating it.

One :class:`HeteroData` per KG pair (see DESIGN.md §2):

* ``data['src'].num_nodes``: N, local ids ``0..N-1``
* ``data['src'].file_id``: ``[N]`` long, the global id in the files
* ``data['src'].name`` / ``.uri``: ``list[str]`` of N raw strings, for reports
* ``data['src'].x_name``: ``[N, d]`` float32 name embedding
* ``data['src'].x_img`` / ``.img_mask``: ``[N, d]`` float32 / ``[N]`` bool (zero row when no image)
* ``data['src'].x_attr``: ``[N, d]`` float32 attribute bag
* ``data['src'].x_rel``: ``[N, d]`` float32 relation bag (out- and in-edge counts)
* ``data['src','rel','src'].edge_index`` / ``.edge_type``: ``[2, E]`` / ``[E]`` long, triples
  head -> tail, relation ids local to the KG (``0..R-1``)
* ``data['src','rel','src'].num_relations``: int R; ``.relation_info``: dict with the relations'
  ``file_id`` (and ``uri`` when known) lists, local order
* ``data['src','same_as','tgt'].edge_index``: ``[2, L]`` gold links (evaluation ONLY), with
  ``.train_mask`` / ``.test_mask`` ``[L]`` bool
* ``data.meta``: dict, provenance (dataset, name encoder, split, attributes, ...)

and the same for ``'tgt'``. Every feature is optional except that a side must have at least one
entity; :func:`validate_pair` checks whatever is present.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

__all__ = [
    'KGSide',
    'PairValidationError',
    'build_pair',
    'validate_pair',
    'SIDES',
    'REL',
    'SAME_AS',
    'PSEUDO_SEED',
]

SIDES = ('src', 'tgt')
REL = {s: (s, 'rel', s) for s in SIDES}
SAME_AS = ('src', 'same_as', 'tgt')
PSEUDO_SEED = ('src', 'pseudo_seed', 'tgt')


class PairValidationError(ValueError):
    r"""A KG-pair :class:`HeteroData` that breaks the schema; the message names the tensor."""


@dataclass
class KGSide:
    r"""One KG as read from files, before features are computed.

    Args:
        file_id: ``[N]`` global entity ids; row ``i`` is local entity ``i``.
        uri: ``N`` URIs (or labels).
        name: ``N`` human-readable names (input of the name encoder).
        triples: ``[E, 3]`` ``(head, relation, tail)`` with GLOBAL entity and relation ids.
        relations: all relation file ids of this KG (e.g. the ``rel_ids`` file's keys); default:
            the distinct relation ids of :obj:`triples`. Local relation ids follow ascending
            file id.
        relation_uri: ``{relation file id: uri}`` when known.
        attrs: per-entity attribute names (``None``: this KG has no attribute file).
        x_name: ``[N, d]`` name features to use as they are (default: :obj:`name` encoded by
            the pair's name encoder).
    """
    file_id: Tensor
    uri: list[str]
    name: list[str]
    triples: Tensor
    relations: Sequence[int] | None = None
    relation_uri: dict[int, str] | None = None
    attrs: list[list[str]] | None = None
    x_name: Tensor | None = None
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.file_id.numel())


def _lookup(file_id: Tensor) -> Tensor:
    table = torch.full((int(file_id.max()) + 1, ), -1, dtype=torch.long)
    table[file_id] = torch.arange(file_id.numel())
    return table


def _to_local(ids: Tensor, table: Tensor, what: str) -> Tensor:
    if ids.numel() == 0:
        return ids.clone()
    bad = (ids < 0) | (ids >= table.numel())
    if not bad.any():
        out = table[ids]
        bad = out < 0
        if not bad.any():
            return out
    g = int(ids[bad.nonzero()[0]].item())
    raise PairValidationError(f'{what}: id {g} is not an entity of this KG')


def _side_graph(side: KGSide, who: str) -> tuple[Tensor, Tensor, int, dict]:
    table = _lookup(side.file_id)
    triples = side.triples.view(-1, 3).long()
    head = _to_local(triples[:, 0], table, f'{who} triples (head)')
    tail = _to_local(triples[:, 2], table, f'{who} triples (tail)')
    rel_ids = sorted(set(side.relations) if side.relations is not None else
                     set(triples[:, 1].tolist()))
    rel_table = {r: i for i, r in enumerate(rel_ids)}
    try:
        edge_type = torch.tensor([rel_table[r] for r in triples[:, 1].tolist()], dtype=torch.long)
    except KeyError as e:
        raise PairValidationError(f'{who} triples: relation id {e.args[0]} is not in the '
                                  'relation list of this KG') from None
    info = {'file_id': list(rel_ids)}
    if side.relation_uri is not None:
        info['uri'] = [side.relation_uri.get(r, str(r)) for r in rel_ids]
    return torch.stack([head, tail]), edge_type, len(rel_ids), info


def _encode_missing_names(data: HeteroData, sides: tuple[KGSide, KGSide], encoder: str) -> None:
    """``x_name`` for the sides that came without one. When both did, a ``+`` combination's parts are weighed
    alike on both sides, from their spread over random (source, target) pairs."""
    from psqe_pyg import features
    from psqe_pyg.readers.io import uri_local_name

    missing = [key for key, side in zip(SIDES, sides) if side.x_name is None]
    if not missing:
        return
    original = {key: [uri_local_name(u) for u in data[key].uri] for key in missing}
    if len(missing) == 2:  # e5 reads both sides' strings in one cached pass
        blocks = dict(zip(SIDES, features.encode_pair_name_blocks(
            data['src'].name, data['tgt'].name, encoder, src_original=original['src'],
            tgt_original=original['tgt'])))
    else:
        blocks = {key: features.encode_name_blocks(data[key].name, encoder, original=original[key])
                  for key in missing}
    # both sides' random pairs when both are encoded here, else the one side's own pairs
    weights = features.name_block_weights(*(blocks.get(key, blocks[missing[0]]) for key in SIDES))
    for key in missing:
        data[key].x_name = features.combine_name_blocks(blocks[key], weights)


def build_pair(
    src: KGSide,
    tgt: KGSide,
    links: Tensor | None,
    train_mask: Tensor | None = None,
    test_mask: Tensor | None = None,
    *,
    name_encoder: str = 'auto',
    images: tuple[Tensor, Tensor, Tensor, Tensor] | None = None,
    rel_dim: int = 1000,
    attr_dim: int = 1000,
    meta: dict | None = None,
) -> HeteroData:
    r"""Assembles and validates a pair :class:`HeteroData` from two :class:`KGSide` objects.

    Args:
        links: ``[L, 2]`` gold links as GLOBAL ids (KG1, KG2), or ``None``.
        train_mask, test_mask: ``[L]`` bool; default: every link is a test link.
        name_encoder: embeds the names of a side without ``x_name`` (:func:`psqe_pyg.features.encode_names`;
            a ``+`` combination weighs its parts by their cosines' spread over random cross-KG pairs).
        images: ``(x_src, mask_src, x_tgt, mask_tgt)`` in local order, or ``None``.
        rel_dim: width of the relation bags (:func:`psqe_pyg.features.relation_bag`).
        attr_dim: attribute vocabulary cap (:func:`psqe_pyg.features.attribute_vocab`). Attribute
            bags are built only when BOTH sides have attributes (a shared vocabulary needs both).
    """
    from psqe_pyg import features

    data = HeteroData()
    have_attrs = src.attrs is not None and tgt.attrs is not None
    vocab = features.attribute_vocab(src.attrs, tgt.attrs, max_size=attr_dim) if have_attrs \
        else None
    for key, side in zip(SIDES, (src, tgt)):
        n = len(side)
        if n == 0:
            raise PairValidationError(f"data['{key}']: the KG has no entities")
        if len(side.uri) != n or len(side.name) != n:
            raise PairValidationError(
                f"data['{key}']: {n} ids but {len(side.uri)} uris and {len(side.name)} names")
        store = data[key]
        store.num_nodes = n
        store.file_id = side.file_id.long()
        store.name = list(side.name)
        store.uri = list(side.uri)
        if side.x_name is not None:
            store.x_name = side.x_name.float()
        edge_index, edge_type, num_rel, info = _side_graph(side, f"data['{key}']")
        rel = data[REL[key]]
        rel.edge_index = edge_index
        rel.edge_type = edge_type
        rel.num_relations = num_rel
        rel.relation_info = info
        store.x_rel = features.relation_bag(edge_index, edge_type, n, num_rel, dim=rel_dim)
        if vocab is not None:
            store.x_attr = features.attribute_bag(side.attrs, vocab)
    _encode_missing_names(data, (src, tgt), name_encoder)
    if images is not None:
        x_s, m_s, x_t, m_t = images
        data['src'].x_img, data['src'].img_mask = x_s.float(), m_s.bool()
        data['tgt'].x_img, data['tgt'].img_mask = x_t.float(), m_t.bool()
    if links is not None:
        links = links.view(-1, 2).long()
        s = _to_local(links[:, 0], _lookup(src.file_id), 'links (KG1 side)')
        t = _to_local(links[:, 1], _lookup(tgt.file_id), 'links (KG2 side)')
        L = links.size(0)
        if train_mask is None:
            train_mask = torch.zeros(L, dtype=torch.bool)
        if test_mask is None:
            test_mask = ~train_mask
        same = data[SAME_AS]
        same.edge_index = torch.stack([s, t])
        same.train_mask = train_mask.bool()
        same.test_mask = test_mask.bool()
    data.meta = dict(meta or {})
    if vocab is not None:
        data.meta['attr_vocab_size'] = len(vocab)
    validate_pair(data)
    return data


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------
def _fail(what: str, msg: str):
    raise PairValidationError(f'{what}: {msg}')


def _check_tensor(t, what: str, *, dtype_kind: str, ndim: int, shape0: int | None = None,
                  shape1: int | None = None) -> Tensor:
    if not isinstance(t, Tensor):
        _fail(what, f'expected a torch.Tensor, got {type(t).__name__}')
    if t.dim() != ndim:
        _fail(what, f'expected {ndim} dimension(s), got shape {tuple(t.shape)}')
    if dtype_kind == 'float' and not t.is_floating_point():
        _fail(what, f'expected a floating-point tensor, got {t.dtype}')
    if dtype_kind == 'long' and t.dtype != torch.long:
        _fail(what, f'expected torch.long, got {t.dtype}')
    if dtype_kind == 'bool' and t.dtype != torch.bool:
        _fail(what, f'expected torch.bool, got {t.dtype}')
    if shape0 is not None and t.size(0) != shape0:
        _fail(what, f'expected size {shape0} in dimension 0, got shape {tuple(t.shape)}')
    if shape1 is not None and t.size(1) != shape1:
        _fail(what, f'expected size {shape1} in dimension 1, got shape {tuple(t.shape)}')
    # a sparse bag: only its stored entries can be non-finite
    sparse = t.layout == torch.sparse_coo
    vals = t.coalesce().values() if sparse else t
    # a sum is finite iff every entry is, barring overflow (then the exact check decides)
    if dtype_kind == 'float' and vals.numel() and not bool(torch.isfinite(vals.sum())) and \
            not bool(torch.isfinite(vals).all()):
        first = (~torch.isfinite(vals)).nonzero()[0]
        row = int(t.coalesce().indices()[0, first[0]]) if sparse else int(first[0])
        kind = 'NaN' if bool(torch.isnan(vals).any()) else 'infinite values'
        _fail(what, f'contains {kind} (first in row {row})')
    return t


def _edge_store(data: HeteroData, et: tuple, missing: str | None):
    """``(data[et], its checked edge_index [2, E])``, or ``None`` when the pair has no ``et`` edges (an error
    saying ``missing`` when that is given)."""
    if et not in data.edge_types:
        if missing is not None:
            _fail(f'data{et}', missing)
        return None
    store = data[et]
    return store, _check_tensor(store.get('edge_index'), f'data{et}.edge_index', dtype_kind='long', ndim=2, shape0=2)


def _check_index(t: Tensor, what: str, upper: int, bound: str):
    if t.numel() == 0:
        return
    lo, hi = int(t.min()), int(t.max())
    if lo < 0 or hi >= upper:
        _fail(what, f'index out of range: values span [{lo}, {hi}] but {bound} = {upper}')


def validate_pair(data: HeteroData, *, require_edges: bool = True,
                  require_links: bool = False) -> HeteroData:
    r"""Checks that :obj:`data` follows the KG-pair schema; returns it unchanged.

    Checks both node types exist with at least one entity; every ``x_*`` feature is a finite 2-D
    float tensor with one row per entity; ``img_mask`` is bool ``[N]`` next to ``x_img`` and rows
    without an image are zero; ``file_id`` is long ``[N]``; ``name`` / ``uri`` lists have N entries;
    relation edges are long ``[2, E]`` inside ``[0, N)`` with ``edge_type`` long ``[E]`` inside
    ``[0, num_relations)`` (and ``E > 0`` when :obj:`require_edges`); gold links and pseudo-seeds
    (when present, or always when :obj:`require_links`) index valid entities and carry masks /
    scores of matching length.

    Raises:
        PairValidationError: naming the offending tensor, e.g. ``data['tgt'].x_img``.
    """
    if not isinstance(data, HeteroData):
        raise PairValidationError(f'expected a torch_geometric.data.HeteroData, got '
                                  f'{type(data).__name__}')
    nodes = {}
    for key in SIDES:
        if key not in data.node_types:
            _fail(f"data['{key}']", "missing node type (a pair has node types 'src' and 'tgt')")
        store = data[key]
        n = store.num_nodes
        if n is None or n == 0:
            _fail(f"data['{key}']", 'empty graph: no entities')
        nodes[key] = n
        for attr in store.keys():
            what = f"data['{key}'].{attr}"
            value = store[attr]
            if attr.startswith('x_'):
                _check_tensor(value, what, dtype_kind='float', ndim=2, shape0=n)
            elif attr == 'img_mask':
                _check_tensor(value, what, dtype_kind='bool', ndim=1, shape0=n)
            elif attr == 'file_id':
                _check_tensor(value, what, dtype_kind='long', ndim=1, shape0=n)
            elif attr in ('name', 'uri'):
                if not isinstance(value, (list, tuple)):
                    _fail(what, f'expected a list of {n} strings, got {type(value).__name__}')
                if len(value) != n:
                    _fail(what, f'expected {n} entries (one per entity), got {len(value)}')
        if 'x_img' in store and 'img_mask' not in store:
            _fail(f"data['{key}'].img_mask", 'missing (x_img needs img_mask)')
        if 'img_mask' in store and 'x_img' not in store:
            _fail(f"data['{key}'].x_img", 'missing (img_mask without x_img)')
        if 'x_img' in store:
            stray = (~store.img_mask) & (store.x_img != 0).any(dim=1)
            if bool(stray.any()):
                _fail(f"data['{key}'].x_img",
                      f'row {int(stray.nonzero()[0])} is non-zero but img_mask is False')

    for key in SIDES:
        et = REL[key]
        what = f'data{et}'
        found = _edge_store(data, et, 'missing relation edges (no triples)' if require_edges else None)
        if found is None:
            continue
        rel, ei = found
        E = ei.size(1)
        if E == 0 and require_edges:
            _fail(f'{what}.edge_index', 'empty graph: no relation triples')
        _check_index(ei, f'{what}.edge_index', nodes[key], f"data['{key}'].num_nodes")
        if 'edge_type' in rel:
            ety = _check_tensor(rel.edge_type, f'{what}.edge_type', dtype_kind='long', ndim=1,
                                shape0=E)
            R = rel.get('num_relations')
            if not isinstance(R, int) or R < 0:
                _fail(f'{what}.num_relations', f'expected a non-negative int, got {R!r}')
            _check_index(ety, f'{what}.edge_type', R, 'num_relations')

    for et, required in ((SAME_AS, require_links), (PSEUDO_SEED, False)):
        what = f'data{et}'
        found = _edge_store(data, et, 'missing gold links' if required else None)
        if found is None:
            continue
        store, ei = found
        L = ei.size(1)
        _check_index(ei[0], f'{what}.edge_index[0]', nodes['src'], "data['src'].num_nodes")
        _check_index(ei[1], f'{what}.edge_index[1]', nodes['tgt'], "data['tgt'].num_nodes")
        if et == SAME_AS:
            masks = []
            for m in ('train_mask', 'test_mask'):
                if m in store:
                    masks.append(_check_tensor(store[m], f'{what}.{m}', dtype_kind='bool',
                                               ndim=1, shape0=L))
            if len(masks) == 2 and bool((masks[0] & masks[1]).any()):
                _fail(f'{what}.test_mask', 'overlaps train_mask')
        else:
            if 'score' in store:
                _check_tensor(store.score, f'{what}.score', dtype_kind='float', ndim=1, shape0=L)
            if 'stage' in store:
                _check_tensor(store.stage, f'{what}.stage', dtype_kind='long', ndim=1, shape0=L)
    return data
