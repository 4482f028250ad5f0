"""Reading and writing the ``('src', 'pseudo_seed', 'tgt')`` edges that every seed generator produces, and the
per-stage history a generator leaves on the pair it returns (``data.seed_history``, ``data.seed_timings``), so
it travels with the data (also out of DataLoader workers and through processed-dataset caches)."""
from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.pair.graph import pair_device
from psqe_pyg.pair.schema import PSEUDO_SEED


class Seeds(NamedTuple):
    """A seed list in its order: ``edge_index [2, S]``, ``score [S]``, ``stage [S]`` (1, 2 or 3)."""
    edge_index: Tensor
    score: Tensor
    stage: Tensor

    @staticmethod
    def empty(device: torch.device | str) -> 'Seeds':
        return Seeds(torch.empty(2, 0, dtype=torch.long, device=device), torch.empty(0, device=device),
                     torch.empty(0, dtype=torch.long, device=device))

    @staticmethod
    def of(row: Tensor, col: Tensor, score: Tensor, stage: int) -> 'Seeds':
        return Seeds(torch.stack([row, col]).long(), score.float(),
                     torch.full((row.numel(), ), stage, dtype=torch.long, device=row.device))

    def __len__(self) -> int:
        return self.edge_index.size(1)

    def cat(self, other: 'Seeds') -> 'Seeds':
        return Seeds(torch.cat([self.edge_index, other.edge_index], dim=1),
                     torch.cat([self.score, other.score]), torch.cat([self.stage, other.stage]))

    def select(self, mask_or_index: Tensor) -> 'Seeds':
        return Seeds(self.edge_index[:, mask_or_index], self.score[mask_or_index],
                     self.stage[mask_or_index])


def get_seeds(data: HeteroData, *, required: bool = True) -> Seeds:
    """The pair's pseudo seeds; an empty list (or a :class:`ValueError` when ``required``) if it has none."""
    if PSEUDO_SEED not in data.edge_types:
        if required:
            raise ValueError(f"the pair has no {PSEUDO_SEED} edges: run a seed generator first "
                             f"(ClusterResample, PSQE or VisualPivot)")
        return Seeds.empty(pair_device(data))
    store = data[PSEUDO_SEED]
    edge_index = store.edge_index
    n = edge_index.size(1)
    score = store.score if 'score' in store else torch.ones(n, device=edge_index.device)
    stage = store.stage if 'stage' in store else torch.zeros(n, dtype=torch.long, device=edge_index.device)
    return Seeds(edge_index, score, stage)


def set_seeds(data: HeteroData, seeds: Seeds) -> HeteroData:
    """Writes ``seeds`` as the pair's ``('src', 'pseudo_seed', 'tgt')`` edges (replacing earlier ones)."""
    store = data[PSEUDO_SEED]
    store.edge_index = seeds.edge_index
    store.score = seeds.score
    store.stage = seeds.stage
    return data


def set_history(data: HeteroData, stages: dict[str, Seeds], seconds: dict[str, float]) -> HeteroData:
    """Records a seed generator's run on ``data``: the seeds after every stage (``stages``, in order) and each
    stage's wall time in seconds, replacing an earlier record."""
    data.seed_history = {name: seeds._asdict() for name, seeds in stages.items()}
    data.seed_timings = {name: float(seconds[name]) for name in stages}
    return data


def get_history(data: HeteroData) -> tuple[dict[str, Seeds], dict[str, float]]:
    """The seeds after every stage of the last seed generator that ran on ``data`` and each stage's wall time:
    ``({stage: Seeds}, {stage: seconds})``, both empty when none recorded them."""
    stages = data.seed_history if 'seed_history' in data else {}
    seconds = data.seed_timings if 'seed_timings' in data else {}
    return {name: Seeds(**fields) for name, fields in stages.items()}, dict(seconds)
