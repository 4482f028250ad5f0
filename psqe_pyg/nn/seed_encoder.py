import logging
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from psqe_pyg.nn.attention import BipartiteCSR, GraphAttention
from psqe_pyg.nn.losses import bidirectional_info_nce

log = logging.getLogger(__name__)


class ReceptiveField(NamedTuple):
    """What a ``L``-layer message-passing network needs to embed ``nodes``: the input nodes ``[N_0]`` and,
    per layer, the destination rows in the layer's input and the edges (full neighbourhoods, so the
    embeddings equal those of a full-graph pass)."""
    input_nodes: Tensor
    layers: list[tuple[Tensor, BipartiteCSR]]


def receptive_field(edge_index: Tensor, num_nodes: int, nodes: Tensor, num_layers: int) -> ReceptiveField:
    """Args: ``edge_index [2, E]`` (source, destination) over ``num_nodes``; ``nodes [B]`` distinct ids."""
    layers = []
    dst_nodes = nodes
    for _ in range(num_layers):
        is_dst = torch.zeros(num_nodes, dtype=torch.bool)
        is_dst[dst_nodes] = True
        keep = is_dst[edge_index[1]]
        src, dst = edge_index[0, keep], edge_index[1, keep]
        is_src = is_dst.clone()
        is_src[src] = True
        src_nodes = is_src.nonzero().view(-1)
        src_pos = torch.full((num_nodes, ), -1, dtype=torch.long)
        src_pos[src_nodes] = torch.arange(src_nodes.numel())
        dst_pos = torch.full((num_nodes, ), -1, dtype=torch.long)
        dst_pos[dst_nodes] = torch.arange(dst_nodes.numel())
        graph = BipartiteCSR.build(src_pos[src], dst_pos[dst], src_nodes.numel(), dst_nodes.numel())
        layers.append((src_pos[dst_nodes], graph))
        dst_nodes = src_nodes
    return ReceptiveField(dst_nodes, layers[::-1])


class SeedEncoder(nn.Module):
    r"""The PSQE stage-2 encoder: a graph-attention network over a linear map of the primary modality, plus
    one linear map per other modality (DESIGN §4, stage 2).

    Args:
        primary_dim: input dimension of the primary modality (``None`` when the pair has none).
        view_dims: input dimension of every other modality, by view name (e.g. ``{'attr': 1000}``).
        hidden: output dimension of every view.
        heads: attention heads per layer (their outputs are concatenated to ``hidden``).
        num_layers: graph-attention layers.
    """
    def __init__(self, primary_dim: int | None, view_dims: dict[str, int], hidden: int = 300,
                 heads: int = 2, num_layers: int = 2) -> None:
        super().__init__()
        if hidden % heads != 0:
            raise ValueError(f'hidden ({hidden}) must be divisible by heads ({heads})')
        self.num_layers = num_layers if primary_dim is not None else 0
        self.primary = None if primary_dim is None else nn.Linear(primary_dim, hidden)
        self.convs = nn.ModuleList([GraphAttention(hidden, hidden // heads, heads) for _ in range(self.num_layers)])
        self.views = nn.ModuleDict({name: nn.Linear(dim, hidden) for name, dim in view_dims.items()})

    def forward(self, primary: Tensor | None, views: dict[str, Tensor], nodes: Tensor,
                field: ReceptiveField | None) -> dict[str, Tensor]:
        """Embeds ``nodes [B]``: ``{'gat': [B, hidden], name: [B, hidden], ...}``.

        Args: ``primary [N, primary_dim]`` and ``views`` ``{name: [N, dim]}`` over all entities; ``field``
        the :func:`receptive_field` of ``nodes`` in the graph (with self loops).
        """
        out = {}
        if self.primary is not None:
            h = self.primary(primary[field.input_nodes])
            for i, (conv, (dst_index, graph)) in enumerate(zip(self.convs, field.layers)):
                h = conv(h, dst_index, graph)
                if i < len(self.convs) - 1:
                    h = F.elu(h)
            out['gat'] = h
        for name, lin in self.views.items():
            out[name] = lin(views[name][nodes])
        return out

    @torch.no_grad()
    def embed_all(self, primary: Tensor | None, views: dict[str, Tensor], edge_index: Tensor,
                  num_nodes: int) -> dict[str, Tensor]:
        """Every view of every entity: ``{view: [N, hidden]}``."""
        nodes = torch.arange(num_nodes)
        field = receptive_field(edge_index, num_nodes, nodes, self.num_layers)
        return self(primary, views, nodes, field)


def train_seed_encoder(model: SeedEncoder, primary: Tensor | None, edge_index: Tensor,
                       views: dict[str, Tensor], pairs: Tensor, num_nodes: int, *, epochs: int = 300,
                       lr: float = 0.01, batch_size: int = 2000, temperature: float = 1.0, seed: int = 0,
                       progress: bool = True) -> list[float]:
    """Trains ``model`` on seed ``pairs [2, S]`` over ``num_nodes`` entities (``edge_index [2, E]`` with
    self loops) with the per-view symmetric InfoNCE summed over views; AdamW. Every batch embeds only its
    own entities (through their full receptive field). Returns the mean loss of every epoch."""
    if pairs.size(1) < 2:
        raise ValueError(f'training the seed encoder needs at least 2 seed pairs, got {pairs.size(1)}')
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    history = []
    cached = None  # (nodes, field): a single batch per epoch always covers the same entities
    for _ in tqdm(range(epochs), desc='PSQE stage 2: seed encoder', disable=not progress, leave=False):
        order = pairs[:, torch.randperm(pairs.size(1), generator=gen)]
        total, count = 0.0, 0
        for start in range(0, order.size(1), batch_size):
            batch = order[:, start:start + batch_size]
            if batch.size(1) < 2:
                continue
            nodes = torch.unique(batch)
            if cached is None or not torch.equal(cached[0], nodes):
                cached = (nodes, receptive_field(edge_index, num_nodes, nodes, model.num_layers))
            out = model(primary, views, nodes, cached[1])
            row, col = torch.searchsorted(nodes, batch[0]), torch.searchsorted(nodes, batch[1])
            loss = sum(bidirectional_info_nce(z[row], z[col], temperature) for z in out.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * batch.size(1)
            count += batch.size(1)
        history.append(total / max(count, 1))
    model.eval()
    if history:
        log.debug('seed encoder loss: first %.4f, last %.4f', history[0], history[-1])
    return history
