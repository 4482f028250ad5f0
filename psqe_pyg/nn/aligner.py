"""A contrastive multimodal entity aligner of the EVA / MCLEA family (DESIGN §5), trained on pseudo seeds.

* :func:`aligner_inputs` gathers a pair's modalities and its relation graphs (both KGs as one graph);
* :class:`MultiModalAligner` embeds entities: a graph-attention structure encoder over the names, one linear
  projection per modality, and a learned weighted fusion;
* :func:`train_aligner` trains it with InfoNCE on seed pairs and, optionally, iterative learning: every few
  steps the mutual nearest neighbours among the entities no seed covers become seeds too.
"""
import logging
import time
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import index_to_mask
from tqdm.auto import tqdm

from psqe_pyg import ops
from psqe_pyg.distributed import ddp
from psqe_pyg.nn.attention import BipartiteCSR, NeighborAttention, csr_tensor
from psqe_pyg.nn.losses import bidirectional_info_nce
from psqe_pyg.ops.matching import tie_break_order
from psqe_pyg.ops.rows import normalize_rows
from psqe_pyg.pair.graph import union_edge_index
from psqe_pyg.pair.modalities import image_mask, pair_features
from psqe_pyg.pair.schema import SIDES

log = logging.getLogger(__name__)

# modality -> node attribute, in the order the views are fused
MODALITY_FIELDS = {'img': 'x_img', 'name': 'x_name', 'attr': 'x_attr', 'rel': 'x_rel'}
# the modalities whose propagation :func:`propagated_features` keeps (relation counts, propagated, ranked the
# DBP15K zh_en validation links worse: 79.8 Hits@1 with them, 85.9 without)
PROPAGATED_MODALITIES = ('img', 'name', 'attr')
STRUCTURE_VIEW = 'graph'
ENTITY_VIEW = 'entity'
FUSED_VIEW = 'fused'


@dataclass
class AlignerConfig:
    """The aligner's architecture and training: the one place their defaults are written
    (:class:`MultiModalAligner`, :func:`train_aligner`, ``psqe-pyg align`` and the README's numbers use them).

    Args:
        hidden: width of every view. heads: attention heads per layer. num_layers: propagation layers.
        attention: learned graph attention (else mean aggregation, computed once per run).
        entity_dim: width of a trainable embedding per entity, propagated over the relation graphs (the
            ``'entity'`` view: structure learned from the seeds themselves, which still carries signal when
            the names carry none); 0: no such view.
        steps: training steps. lr, weight_decay: AdamW. entity_lr: AdamW's rate for the entity embeddings.
        batch_size: seed pairs per step.
        temperature: InfoNCE temperature. refine_every: iterative learning every this many steps (0: off).
        refine_min_score: iterative learning adds only mutual nearest neighbours whose fused cosine is at least
            this (``None``: all of them).
        refine_growth: each round adds at most this many pairs per pair already held, the best scored first
            (``None``: no cap).
        refine_quantile: iterative learning adds only pairs scoring at least this quantile of the scores of
            the pairs already held (the model's own trust in what it trains on; ``None``: no such bound).
        propagated: the share of the final embeddings (of their squared norm) given to the parameter-free
            :func:`propagated_features` (late fusion after training; 0: none; 1: those features alone, no
            training). 0.7: of 0 / 0.7 / 0.85 / 1, the best mean of cosine and greedy one-to-one Hits@1 on the
            validation links of DBP15K zh/ja/fr_en and SRPRS en_fr/en_de (README "Alignment study").
    """
    hidden: int = 96
    heads: int = 2
    num_layers: int = 2
    attention: bool = False
    entity_dim: int = 0
    steps: int = 200
    lr: float = 0.005
    weight_decay: float = 0.0
    entity_lr: float = 0.2
    batch_size: int = 1024
    temperature: float = 0.1
    refine_every: int = 25
    refine_min_score: float | None = None
    refine_growth: float | None = None
    refine_quantile: float | None = None
    propagated: float = 0.7

    def __post_init__(self) -> None:
        if not 0.0 <= self.propagated <= 1.0:
            raise ValueError(f'AlignerConfig: propagated must lie in [0, 1] (got {self.propagated!r})')


class AlignerInputs(NamedTuple):
    """A pair as the aligner sees it; entity ``i`` of ``'tgt'`` is row ``num_src + i``.

    ``features``: ``{modality: [N, d]}`` L2-normalised (image rows zero where ``img_mask`` is False);
    ``structure``: the structure encoder's input ``[N, d]`` (the names, else the images), or ``None``;
    ``graph``: both KGs' undirected relation graphs with self loops, over all ``N = num_src + num_tgt``.
    """
    features: dict[str, Tensor]
    structure: Tensor | None
    graph: BipartiteCSR
    num_src: int
    num_tgt: int

    def to(self, device: torch.device | str) -> 'AlignerInputs':
        return AlignerInputs({m: x.to(device) for m, x in self.features.items()},
                             None if self.structure is None else self.structure.to(device),
                             self.graph.to(device), self.num_src, self.num_tgt)


def aligner_inputs(data: HeteroData) -> AlignerInputs:
    """Reads the modalities (``x_img`` with ``img_mask``, ``x_name``, ``x_attr``, ``x_rel``) and relation
    triples of a pair. Raises a :class:`ValueError` naming the tensor when a modality is malformed or one-sided,
    or when the pair has none."""
    features = {}
    for modality, field in MODALITY_FIELDS.items():
        pair = pair_features(data, field)
        if pair is None:
            continue
        if modality == 'img':
            pair = tuple(x * image_mask(data, nt).unsqueeze(-1) for x, nt in zip(pair, SIDES))
        features[modality] = normalize_rows(torch.cat(pair))  # a sparse bag stays sparse
    if not features:
        raise ValueError('the pair has no entity features: expected at least one of '
                         f"{', '.join(MODALITY_FIELDS.values())} on data['src'] and data['tgt']")
    num_src, num_tgt = data['src'].num_nodes, data['tgt'].num_nodes
    num_nodes = num_src + num_tgt
    edges = union_edge_index(data)
    loops = torch.arange(num_nodes, device=edges.device).expand(2, -1)
    src, dst = torch.cat([edges, loops], dim=1)
    graph = BipartiteCSR.build(src, dst, num_nodes, num_nodes)
    structure = features.get('name', features.get('img'))
    return AlignerInputs(features, structure, graph, num_src, num_tgt)


class MultiModalAligner(nn.Module):
    r"""Entity embeddings for alignment, one view per modality plus their fusion.

    * ``'graph'``: ``num_layers`` propagation layers over the structure input ``h_0`` (the names),
      ``h_l = P_l(h_{l-1})``, and a linear map of ``[h_0 || ... || h_L]``. With ``attention``, ``P_l`` is a
      learned :class:`~psqe_pyg.nn.NeighborAttention`; without, the mean over the neighbourhood (self
      included), which has no parameters, so the propagated features are computed once per training run;
    * one linear map per modality (``'img'``, ``'name'``, ``'attr'``, ``'rel'``);
    * ``'entity'`` (with ``entity_dim > 0``): a trainable vector ``e_0`` per entity, propagated by the same
      mean aggregation, ``e_l = P e_{l-1}``, and a linear map of ``[e_0 || ... || e_L]``. Seed pairs pull
      their vectors together and the propagation passes that on to their neighbours (GCN-Align's idea), so
      this view learns the alignment from the graph even when the features carry no signal;
    * ``'fused'``: :math:`[w_1 n(z_1) \| \dots \| w_V n(z_V)]` with :math:`w = \mathrm{softmax}(\theta)`
      learned (EVA's weighted concatenation).

    Args:
        dims: input width of every modality, e.g. ``{'name': 384, 'rel': 1000}``.
        structure_dim: width of the structure input (``None``: no ``'graph'`` view).
        hidden: width of every view. heads: attention heads per layer. num_layers: propagation layers.
        attention: learned graph attention (else mean aggregation).
        num_entities: entities of both KGs (rows of the ``'entity'`` view); needed with ``entity_dim > 0``.
        entity_dim: width of the ``'entity'`` view's trainable vectors (0: no such view).

    Defaults: :class:`AlignerConfig`.
    """
    def __init__(self, dims: dict[str, int], structure_dim: int | None, hidden: int = AlignerConfig.hidden,
                 heads: int = AlignerConfig.heads, num_layers: int = AlignerConfig.num_layers,
                 attention: bool = AlignerConfig.attention, num_entities: int | None = None,
                 entity_dim: int = AlignerConfig.entity_dim) -> None:
        super().__init__()
        self.num_layers, self.attention = num_layers, attention
        self.layers = nn.ModuleList()
        self.proj = nn.ModuleDict()
        self.entity = None
        if structure_dim is not None:
            if attention:
                self.layers.extend(NeighborAttention(structure_dim, heads) for _ in range(num_layers))
            self.proj[STRUCTURE_VIEW] = nn.Linear(structure_dim * (num_layers + 1), hidden)
        for modality, dim in dims.items():
            self.proj[modality] = nn.Linear(dim, hidden)
        if entity_dim > 0:
            if num_entities is None:
                raise ValueError('MultiModalAligner: entity_dim > 0 needs num_entities')
            self.entity = nn.Parameter(torch.randn(num_entities, entity_dim) / entity_dim ** 0.5)
            self.proj[ENTITY_VIEW] = nn.Linear(entity_dim * (num_layers + 1), hidden)
        if not self.proj:
            raise ValueError('MultiModalAligner needs at least one modality')
        self.fusion = nn.Parameter(torch.zeros(len(self.proj)))

    @staticmethod
    def for_inputs(inputs: AlignerInputs, **kwargs) -> 'MultiModalAligner':
        """A model sized for ``inputs``; ``kwargs`` go to the constructor."""
        structure_dim = None if inputs.structure is None else inputs.structure.size(1)
        return MultiModalAligner({m: x.size(1) for m, x in inputs.features.items()}, structure_dim,
                                 num_entities=inputs.num_src + inputs.num_tgt, **kwargs)

    @property
    def fusion_weights(self) -> dict[str, float]:
        return dict(zip(self.proj.keys(), torch.softmax(self.fusion.detach(), 0).tolist()))

    def structure(self, inputs: AlignerInputs) -> Tensor | None:
        """``[h_0 || ... || h_L]`` of every entity: ``[N, d (L + 1)]`` (``None`` without a ``'graph'`` view)."""
        if STRUCTURE_VIEW not in self.proj:
            return None
        h = inputs.structure
        hs = [h]
        if self.attention:
            everyone = torch.arange(h.size(0), device=h.device)
            for layer in self.layers:
                hs.append(layer(hs[-1], everyone, inputs.graph))
        else:
            mean = _mean_operator(inputs.graph)
            for _ in range(self.num_layers):
                hs.append(mean @ hs[-1])
        return torch.cat(hs, dim=-1)

    def entities(self, inputs: AlignerInputs) -> Tensor | None:
        """``[e_0 || ... || e_L]`` of every entity: ``[N, entity_dim (L + 1)]`` (``None`` without the view)."""
        if self.entity is None:
            return None
        mean = _mean_operator(inputs.graph)
        es = [self.entity]
        for _ in range(self.num_layers):
            es.append(mean @ es[-1])
        return torch.cat(es, dim=-1)

    def forward(self, inputs: AlignerInputs, nodes: Tensor, structure: Tensor | None = None,
                entities: Tensor | None = None) -> dict[str, Tensor]:
        """The views of entities ``nodes [B]`` (rows of ``inputs``): ``{view: [B, hidden]}`` and ``'fused'``
        ``[B, V hidden]``. ``structure`` and ``entities`` are :meth:`structure`'s and :meth:`entities`'
        outputs, when already computed."""
        out = {}
        for view, lin in self.proj.items():
            if view == STRUCTURE_VIEW:
                h = self.structure(inputs) if structure is None else structure
                out[view] = lin(h.index_select(0, nodes))
            elif view == ENTITY_VIEW:
                e = self.entities(inputs) if entities is None else entities
                out[view] = lin(e.index_select(0, nodes))
            else:
                out[view] = lin(inputs.features[view].index_select(0, nodes))
        weights = torch.softmax(self.fusion, 0)
        out[FUSED_VIEW] = torch.cat([w * F.normalize(z, dim=-1) for w, z in zip(weights, out.values())], dim=-1)
        return out

    @torch.no_grad()
    def embed(self, inputs: AlignerInputs, chunk: int = 65536) -> tuple[Tensor, Tensor]:
        """The fused embeddings of every entity, L2-normalised: ``([N_src, D], [N_tgt, D])``."""
        was_training = self.training
        self.eval()
        structure, entities = self.structure(inputs), self.entities(inputs)
        num_nodes = inputs.num_src + inputs.num_tgt
        device = next(self.parameters()).device
        parts = [self(inputs, torch.arange(s, min(s + chunk, num_nodes), device=device), structure,
                      entities)[FUSED_VIEW]
                 for s in range(0, num_nodes, chunk)]
        self.train(was_training)
        z = F.normalize(torch.cat(parts), dim=-1)
        return z[:inputs.num_src], z[inputs.num_src:]


def _mean_operator(graph: BipartiteCSR) -> Tensor:
    """The row-normalised adjacency ``[num_dst, num_src]`` (sparse CSR): each row averages its sources."""
    degree = (graph.rowptr[1:] - graph.rowptr[:-1]).clamp(min=1)
    values = 1.0 / degree.index_select(0, graph.dst).float()
    return csr_tensor(graph.rowptr, graph.src, values, (graph.num_dst, graph.num_src))


def propagated_features(inputs: AlignerInputs, num_layers: int = AlignerConfig.num_layers) -> Tensor:
    """Parameter-free entity embeddings ``[N, D]`` (SEU's training-free features): for each modality of
    :data:`PROPAGATED_MODALITIES` present, its features ``x`` and the mean aggregations ``P x, ..., P^L x``
    over the relation graphs (self loops included), every block L2-normalised, concatenated, and the row
    L2-normalised; ``D = sum_m d_m (L + 1)``. A sparse bag is made dense. Raises a :class:`ValueError` when
    the pair has none of those modalities."""
    xs = [inputs.features[m] for m in PROPAGATED_MODALITIES if m in inputs.features]
    if not xs:
        raise ValueError(f'propagated_features needs one of the modalities {PROPAGATED_MODALITIES}; the pair '
                         f'has {tuple(inputs.features)}')
    mean = _mean_operator(inputs.graph)
    # one [N, D] buffer, each block written into its columns and the rows normalised in place: the peak is that
    # buffer and one block, not the blocks, their concatenation and its normalised copy
    width = sum(x.size(1) for x in xs) * (num_layers + 1)
    out = torch.empty(inputs.num_src + inputs.num_tgt, width, dtype=xs[0].dtype, device=xs[0].device)
    col = 0
    for x in xs:
        h = F.normalize(x.to_dense() if x.is_sparse else x, dim=-1)
        for layer in range(num_layers + 1):
            if layer:
                h = F.normalize(mean @ h, dim=-1)
            out[:, col:col + h.size(1)] = h
            col += h.size(1)
    return out.div_(out.norm(dim=1, keepdim=True).clamp_min(1e-12))  # F.normalize's rule, in place


def late_fusion(src: Tensor, tgt: Tensor, propagated: Tensor, share: float) -> tuple[Tensor, Tensor]:
    """``[sqrt(1 - share) src || sqrt(share) propagated[:N_src]]`` ``[N_src, D + D']`` and the same for ``tgt``
    with ``propagated[N_src:]`` (:func:`propagated_features`, ``[N_src + N_tgt, D']``); only the propagated part
    when ``share == 1``. Rows of unit norm when the inputs' rows are."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f'late_fusion: share must lie in [0, 1] (got {share!r})')
    q_src, q_tgt = propagated[:src.size(0)], propagated[src.size(0):]
    if share == 1.0:
        return q_src, q_tgt
    a, b = (1.0 - share) ** 0.5, share ** 0.5
    return torch.cat([a * src, b * q_src], dim=1), torch.cat([a * tgt, b * q_tgt], dim=1)


class TrainingLog(NamedTuple):
    """What :func:`train_aligner` did: the loss of every step, the seed pairs it trained on at the end
    ``[2, S']`` (the given seeds, then those iterative learning added), the count after every round and the
    wall time its rounds took (seconds)."""
    loss: list[float]
    pairs: Tensor
    rounds: list[int]
    refine_seconds: float = 0.0


def _free_mutual_nn(model: MultiModalAligner, inputs: AlignerInputs, pairs: Tensor, seed: int,
                    min_score: float | None = None, max_new: int | None = None,
                    quantile: float | None = None) -> Tensor:
    """Mutual nearest neighbours (fused cosine) among the entities no pair of ``pairs`` covers: ``[2, P]``,
    those scoring at least ``min_score`` and at least the ``quantile`` of the scores of ``pairs`` and, of them,
    the ``max_new`` best scored (when given). Exact ties go by a random order of the free entities (``seed``),
    not by their ids."""
    src, tgt = model.embed(inputs)
    rows = (~index_to_mask(pairs[0], size=inputs.num_src)).nonzero().view(-1)
    cols = (~index_to_mask(pairs[1], size=inputs.num_tgt)).nonzero().view(-1)
    rows = rows[tie_break_order(rows.numel(), seed, rows.device)]
    cols = cols[tie_break_order(cols.numel(), seed + 1, cols.device)]
    mnn = ops.mutual_nn(src[rows], tgt[cols])
    keep = torch.arange(mnn.row.numel(), device=mnn.row.device)
    if quantile is not None:
        held = (src.index_select(0, pairs[0]) * tgt.index_select(0, pairs[1])).sum(dim=1)
        bound = float(torch.quantile(held, quantile))
        min_score = bound if min_score is None else max(min_score, bound)
    if min_score is not None:
        keep = keep[mnn.score >= min_score]
    if max_new is not None and keep.numel() > max_new:  # stable: equal scores keep the seeded order
        keep = keep[torch.sort(mnn.score[keep], descending=True, stable=True).indices[:max_new]]
    return torch.stack([rows[mnn.row[keep]], cols[mnn.col[keep]]])


def train_aligner(model: MultiModalAligner, inputs: AlignerInputs, seeds: Tensor, *,
                  steps: int = AlignerConfig.steps, lr: float = AlignerConfig.lr,
                  weight_decay: float = AlignerConfig.weight_decay, entity_lr: float = AlignerConfig.entity_lr,
                  batch_size: int = AlignerConfig.batch_size,
                  temperature: float = AlignerConfig.temperature, refine_every: int = AlignerConfig.refine_every,
                  refine_min_score: float | None = AlignerConfig.refine_min_score,
                  refine_growth: float | None = AlignerConfig.refine_growth,
                  refine_quantile: float | None = AlignerConfig.refine_quantile,
                  seed: int = 0, progress: bool = True) -> TrainingLog:
    r"""Trains ``model`` on ``seeds [2, S]`` (``(src id, tgt id)``, local ids) with InfoNCE on the fused view.

    Each step takes the next ``batch_size`` pairs of a shuffled pass over the pairs; its loss is
    :func:`bidirectional_info_nce` (negatives: the batch's other entities of both KGs) of the fused embeddings,
    through which every view learns. With ``refine_every > 0``, iterative learning: before steps
    ``refine_every``, ``2 refine_every``, ..., the mutual nearest neighbours among the entities no pair covers
    join the pairs (only those scoring at least ``refine_min_score`` and the ``refine_quantile`` of the held
    pairs' scores, and at most ``refine_growth`` new pairs
    per pair held, the best first). The gold links are never seen. AdamW; ``seed`` fixes the shuffles. Defaults:
    :class:`AlignerConfig`. Returns a :class:`TrainingLog` (``loss`` per step).

    Under an initialised torch.distributed group every rank must call it with the same arguments: the model
    trains in DistributedDataParallel, each rank computing its share of every batch's loss terms
    (:mod:`psqe_pyg.distributed.ddp`), and the mutual nearest neighbours come from the sharded join.
    """
    if seeds.dim() != 2 or seeds.size(0) != 2:
        raise ValueError(f'seeds must be [2, S], got {tuple(seeds.shape)}')
    if seeds.size(1) < 2:
        raise ValueError(f'training the aligner needs at least 2 seed pairs, got {seeds.size(1)}')
    for i, (name, n) in enumerate((('src', inputs.num_src), ('tgt', inputs.num_tgt))):
        if int(seeds[i].min()) < 0 or int(seeds[i].max()) >= n:
            raise ValueError(f'seeds[{i}] holds ids outside [0, {n}) of the {name} KG')
    device = next(model.parameters()).device
    pairs = seeds.to(device)
    gen = torch.Generator().manual_seed(seed)  # shuffles on the CPU: the same order on every device
    groups = [{'params': [p for name, p in model.named_parameters() if name != 'entity']}]
    if model.entity is not None:  # free vectors move only as far as lr per step: they get their own rate
        groups.append({'params': [model.entity], 'lr': entity_lr})
    opt = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    losses, rounds, refine_seconds = [], [], 0.0
    order, cursor = pairs.new_empty(0), 0
    # without attention the propagated features have no parameters: compute them once
    fixed_structure = None if model.attention else model.structure(inputs)
    model.train()
    net = ddp.wrap(model)  # under torch.distributed: each rank takes its share of every batch's loss rows
    bar = tqdm(range(steps), desc='aligner', disable=not progress, leave=False)
    for step in bar:
        if refine_every > 0 and step > 0 and step % refine_every == 0:
            start = time.perf_counter()
            cap = None if refine_growth is None else int(refine_growth * pairs.size(1))
            new = _free_mutual_nn(model, inputs, pairs, seed + step, refine_min_score, cap, refine_quantile)
            refine_seconds += time.perf_counter() - start
            pairs = torch.cat([pairs, new], dim=1)
            rounds.append(pairs.size(1))
            order, cursor = pairs.new_empty(0), 0  # a fresh pass over all pairs
            log.debug('step %d: iterative learning added %d pairs (%d in all)', step, new.size(1), pairs.size(1))
        if cursor >= order.numel():
            order, cursor = torch.randperm(pairs.size(1), generator=gen, device='cpu').to(device), 0
        batch = pairs[:, order[cursor:cursor + batch_size]]
        cursor += batch_size
        if batch.size(1) < 2:  # a lone pair left at the end of a pass has no negatives: start a new pass
            continue
        nodes = torch.cat([batch[0], batch[1] + inputs.num_src])
        fused = net(inputs, nodes, fixed_structure)[FUSED_VIEW]
        loss = bidirectional_info_nce(fused[:batch.size(1)], fused[batch.size(1):], temperature,
                                      rows=ddp.loss_rows(batch.size(1)))
        opt.zero_grad()
        ddp.backward(loss)
        opt.step()
        losses.append(ddp.total(loss))
        bar.set_postfix(loss=f'{losses[-1]:.3f}', pairs=pairs.size(1))
    model.eval()
    return TrainingLog(losses, pairs.cpu(), rounds, refine_seconds)
