import logging

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv
from tqdm.auto import tqdm

from psqe_pyg.nn.losses import bidirectional_info_nce

log = logging.getLogger(__name__)


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
                 heads: int = 2, num_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        if hidden % heads != 0:
            raise ValueError(f'hidden ({hidden}) must be divisible by heads ({heads})')
        self.dropout = dropout
        self.primary = None if primary_dim is None else nn.Linear(primary_dim, hidden)
        self.convs = nn.ModuleList([GATConv(hidden, hidden // heads, heads=heads, dropout=dropout)
                                    for _ in range(num_layers if primary_dim is not None else 0)])
        self.views = nn.ModuleDict({name: nn.Linear(dim, hidden) for name, dim in view_dims.items()})

    def forward(self, primary: Tensor | None, edge_index: Tensor, views: dict[str, Tensor]) -> dict[str, Tensor]:
        """Args: ``primary [N, primary_dim]``, ``edge_index [2, E]`` over the same ``N`` entities, ``views``
        ``{name: [N, dim]}``. Returns ``{'gat': [N, hidden], name: [N, hidden], ...}``."""
        out = {}
        if self.primary is not None:
            h = self.primary(primary)
            for i, conv in enumerate(self.convs):
                h = F.dropout(h, self.dropout, self.training)
                h = conv(h, edge_index)
                if i < len(self.convs) - 1:
                    h = F.elu(h)
            out['gat'] = h
        for name, lin in self.views.items():
            out[name] = lin(views[name])
        return out


def train_seed_encoder(model: SeedEncoder, primary: Tensor | None, edge_index: Tensor,
                       views: dict[str, Tensor], pairs: Tensor, *, epochs: int = 300, lr: float = 0.01,
                       batch_size: int = 2000, temperature: float = 1.0, seed: int = 0,
                       progress: bool = True) -> list[float]:
    """Trains ``model`` on seed ``pairs [2, S]`` (ids in the union graph: targets shifted by ``N_src``) with
    the per-view symmetric InfoNCE summed over views; AdamW. Returns the mean loss of every epoch."""
    if pairs.size(1) < 2:
        raise ValueError(f'training the seed encoder needs at least 2 seed pairs, got {pairs.size(1)}')
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    history = []
    for _ in tqdm(range(epochs), desc='PSQE stage 2: seed encoder', disable=not progress, leave=False):
        order = pairs[:, torch.randperm(pairs.size(1), generator=gen)]
        total = 0.0
        for start in range(0, order.size(1), batch_size):
            batch = order[:, start:start + batch_size]
            if batch.size(1) < 2:
                continue
            out = model(primary, edge_index, views)
            loss = sum(bidirectional_info_nce(z[batch[0]], z[batch[1]], temperature) for z in out.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * batch.size(1)
        history.append(total / order.size(1))
    model.eval()
    log.debug('seed encoder loss: first %.4f, last %.4f', history[0], history[-1])
    return history
