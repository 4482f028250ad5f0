import logging
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from psqe_pyg.nn.attention import BipartiteCSR, GraphAttention
from psqe_pyg.nn.losses import bidirectional_info_nce

log = logging.getLogger(__name__)


class InNeighbors(NamedTuple):
    """A graph's edges grouped by destination, built once so that receptive fields never scan all edges:
    the sources of node ``i`` are ``col[rowptr[i]:rowptr[i + 1]]`` in ascending order (duplicates kept).
    ``rowptr [N + 1]``, ``col [E]``."""
    rowptr: Tensor
    col: Tensor

    @staticmethod
    def build(edge_index: Tensor, num_nodes: int) -> 'InNeighbors':
        """Args: ``edge_index [2, E]`` (source, destination) over ``num_nodes``."""
        src, dst = edge_index
        order = torch.argsort(dst * num_nodes + src)
        rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=dst.device)
        rowptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0)
        return InNeighbors(rowptr, src[order])

    def of(self, nodes: Tensor) -> tuple[Tensor, Tensor]:
        """The edges into ``nodes [B]``: ``(src [E_B], dst [E_B])``, sources as node ids, destinations as
        positions in ``nodes``."""
        start, end = self.rowptr[nodes], self.rowptr[nodes + 1]
        count = end - start
        dst = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), count)
        first = torch.cumsum(count, 0) - count  # where each node's edges begin in the output
        offset = torch.arange(dst.numel(), device=nodes.device) - first[dst] + start[dst]
        return self.col[offset], dst


class ReceptiveField(NamedTuple):
    """What a ``L``-layer message-passing network needs to embed ``nodes``: the input nodes ``[N_0]`` and,
    per layer, the destination rows in the layer's input and the edges (full neighbourhoods, so the
    embeddings equal those of a full-graph pass)."""
    input_nodes: Tensor
    layers: list[tuple[Tensor, BipartiteCSR]]


def receptive_field(graph: InNeighbors, nodes: Tensor, num_layers: int) -> ReceptiveField:
    """Args: ``graph`` the edges (with self loops, if wanted); ``nodes [B]`` distinct ids. Reads only the
    edges into the field, never all edges. Every layer's input nodes are sorted by id."""
    layers = []
    dst_nodes = nodes
    for _ in range(num_layers):
        src, dst = graph.of(dst_nodes)
        src_nodes = torch.unique(torch.cat([dst_nodes, src]))
        csr = BipartiteCSR.build(torch.searchsorted(src_nodes, src), dst, src_nodes.numel(), dst_nodes.numel())
        layers.append((torch.searchsorted(src_nodes, dst_nodes), csr))
        dst_nodes = src_nodes
    return ReceptiveField(dst_nodes, layers[::-1])


class EncoderInputs(NamedTuple):
    """What :class:`SeedEncoder` reads to embed ``nodes [B]``, gathered once per node set: their
    :class:`ReceptiveField`, the primary features of its input nodes ``[N_0, primary_dim]`` (``None``
    without a primary modality) and the other views of ``nodes`` ``{name: [B, dim]}``."""
    nodes: Tensor
    field: ReceptiveField
    primary: Tensor | None
    views: dict[str, Tensor]

    @staticmethod
    def gather(graph: InNeighbors, nodes: Tensor, primary: Tensor | None, views: dict[str, Tensor],
               num_layers: int) -> 'EncoderInputs':
        """Args: ``primary [N, primary_dim]`` and ``views`` ``{name: [N, dim]}`` over all entities."""
        field = receptive_field(graph, nodes, num_layers)
        return EncoderInputs(nodes, field, None if primary is None else primary[field.input_nodes],
                             {name: v[nodes] for name, v in views.items()})


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

    def forward(self, inputs: EncoderInputs) -> dict[str, Tensor]:
        """Embeds ``inputs.nodes [B]``: ``{'gat': [B, hidden], name: [B, hidden], ...}``."""
        out = {}
        if self.primary is not None:
            h = self.primary(inputs.primary)
            for i, (conv, (dst_index, graph)) in enumerate(zip(self.convs, inputs.field.layers)):
                h = conv(h, dst_index, graph)
                if i < len(self.convs) - 1:
                    h = F.elu(h)
            out['gat'] = h
        for name, lin in self.views.items():
            out[name] = lin(inputs.views[name])
        return out

    @torch.no_grad()
    def embed_all(self, primary: Tensor | None, views: dict[str, Tensor], graph: InNeighbors) -> dict[str, Tensor]:
        """Every view of every entity: ``{view: [N, hidden]}``."""
        nodes = torch.arange(graph.rowptr.numel() - 1, device=graph.rowptr.device)
        return self(EncoderInputs.gather(graph, nodes, primary, views, self.num_layers))


def train_seed_encoder(model: SeedEncoder, primary: Tensor | None, graph: InNeighbors,
                       views: dict[str, Tensor], pairs: Tensor, *, epochs: int, lr: float = 0.01,
                       batch_size: int = 2000, temperature: float = 1.0, seed: int = 0,
                       progress: bool = True) -> list[float]:
    """Trains ``model`` on seed ``pairs [2, S]`` over the entities of ``graph`` (with self loops) with the
    per-view symmetric InfoNCE summed over views; AdamW. Every batch embeds only its own entities (through
    their full receptive field). Returns the mean loss of every epoch."""
    if pairs.size(1) < 2:
        raise ValueError(f'training the seed encoder needs at least 2 seed pairs, got {pairs.size(1)}')
    gen = torch.Generator(device='cpu').manual_seed(seed)  # the same batch order on every device
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    history = []
    inputs = None  # a single batch per epoch always covers the same entities: gathered once
    for _ in tqdm(range(epochs), desc='PSQE stage 2: seed encoder', disable=not progress, leave=False):
        order = pairs[:, torch.randperm(pairs.size(1), generator=gen, device='cpu').to(pairs.device)]
        total, count = 0.0, 0
        for start in range(0, order.size(1), batch_size):
            batch = order[:, start:start + batch_size]
            if batch.size(1) < 2:
                continue
            nodes = torch.unique(batch)
            if inputs is None or not torch.equal(inputs.nodes, nodes):
                inputs = EncoderInputs.gather(graph, nodes, primary, views, model.num_layers)
            out = model(inputs)
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
