import logging

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform
from torch_geometric.utils import add_self_loops

from psqe_pyg._init_args import args_repr
from psqe_pyg.nn.seed_encoder import InNeighbors, SeedEncoder, train_seed_encoder
from psqe_pyg.ops.dense_match import greedy_dense_match
from psqe_pyg.pair.graph import union_edge_index
from psqe_pyg.pair.modalities import Modalities, fuse, get_modalities
from psqe_pyg.pair.seeds import Seeds, get_seeds, set_seeds
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)

#: Node attributes where GlobalResample leaves the learned views for NeighborhoodExpansion.
VIEW_ATTRS = {'gat': 'h_primary', 'attr': 'h_attr', 'rel': 'h_rel'}


def learned_views(data: HeteroData, node_type: str) -> dict[str, Tensor]:
    """The views GlobalResample learned, by view name (empty when it has not run)."""
    store = data[node_type]
    return {view: store[attr] for view, attr in VIEW_ATTRS.items() if attr in store}


class GlobalResample(BaseTransform):
    r"""PSQE stage 2: learn from the current seeds, then sample new seeds over all entities (DESIGN §4).

    Trains a :class:`~psqe_pyg.nn.SeedEncoder` on the pair's pseudo seeds, fuses its views as
    z(e) = [0.8 n(gat) || 0.1 n(attr) || 0.1 n(rel)], takes up to ``budget`` pairs over all entities by greedy
    one-to-one matching on z, and appends (with ``stage = 2``) those whose two ends are not seeds yet. The
    learned views are kept as ``data[nt].h_primary`` / ``h_attr`` / ``h_rel`` ``[N, hidden]`` for stage 3.

    Args:
        budget: the most new pairs to draw.
        weights: (gat, attribute, relation) weights of z.
        hidden, heads, num_layers: encoder shape. epochs, lr, batch_size, temperature: training.
        seed: seeds the encoder's initialisation and batch order.
        progress: show a progress bar while training.
    """
    def __init__(self, budget: int = D.BUDGET, *, weights: tuple[float, float, float] = D.WEIGHTS,
                 hidden: int = D.HIDDEN, heads: int = 2, num_layers: int = 2, epochs: int = D.EPOCHS,
                 lr: float = D.LR, batch_size: int = D.BATCH_SIZE, temperature: float = D.TEMPERATURE, seed: int = 0,
                 progress: bool = True, backend: str = 'auto') -> None:
        self.budget = budget
        self.weights = tuple(weights)
        self.hidden, self.heads, self.num_layers = hidden, heads, num_layers
        self.epochs, self.lr, self.batch_size, self.temperature = epochs, lr, batch_size, temperature
        self.seed = seed
        self.progress = progress
        self.backend = backend

    def _train(self, data: HeteroData, src: Modalities, tgt: Modalities, seeds: Seeds) -> dict[str, Tensor]:
        cat = lambda a, b: None if a is None else torch.cat([a, b])  # noqa: E731
        primary = cat(src.primary, tgt.primary)
        # The encoder maps every view with a dense linear layer: sparse bags are densified here, the one
        # [N, vocabulary] copy left (a sparse product would round differently and change the seeds).
        views = {name: cat(*(getattr(m, name).to_dense() for m in (src, tgt))) for name in ('attr', 'rel')
                 if getattr(src, name) is not None}
        num_nodes = data['src'].num_nodes + data['tgt'].num_nodes
        edge_index, _ = add_self_loops(union_edge_index(data), num_nodes=num_nodes)
        graph = InNeighbors.build(edge_index, num_nodes)
        shift = torch.tensor([[0], [data['src'].num_nodes]], device=seeds.edge_index.device)
        with torch.random.fork_rng(devices=[]), torch.device(seeds.edge_index.device):
            torch.manual_seed(self.seed)
            model = SeedEncoder(None if primary is None else primary.size(1),
                                {name: v.size(1) for name, v in views.items()}, self.hidden, self.heads,
                                self.num_layers)
            train_seed_encoder(model, primary, graph, views, seeds.edge_index + shift, epochs=self.epochs,
                               lr=self.lr, batch_size=self.batch_size, temperature=self.temperature,
                               seed=self.seed, progress=self.progress)
        return model.embed_all(primary, views, graph)

    def forward(self, data: HeteroData) -> HeteroData:
        seeds = get_seeds(data)
        src, tgt = get_modalities(data)
        out = self._train(data, src, tgt, seeds)
        n_src = data['src'].num_nodes
        z = fuse([out.get('gat'), out.get('attr'), out.get('rel')], list(self.weights))
        match = greedy_dense_match(z[:n_src], z[n_src:], self.budget, seed=self.seed, backend=self.backend)

        seeded_src = torch.zeros(n_src, dtype=torch.bool, device=z.device)
        seeded_tgt = torch.zeros(data['tgt'].num_nodes, dtype=torch.bool, device=z.device)
        seeded_src[seeds.edge_index[0]] = True
        seeded_tgt[seeds.edge_index[1]] = True
        new = ~seeded_src[match.row] & ~seeded_tgt[match.col]
        added = Seeds.of(match.row[new], match.col[new], match.score[new], stage=2)
        log.info('GlobalResample: %d of %d matched pairs are new', len(added), match.row.numel())

        for view, attr in VIEW_ATTRS.items():
            if view in out:
                data['src'][attr], data['tgt'][attr] = out[view][:n_src], out[view][n_src:]
        return set_seeds(data, seeds.cat(added))

    __repr__ = args_repr
