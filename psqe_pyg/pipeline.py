"""The end-to-end unsupervised pipeline: pseudo seeds -> aligner -> evaluation on the test links."""
import logging
import time
from dataclasses import asdict, dataclass

import torch
from torch_geometric.data import HeteroData

from psqe_pyg.evaluation import GOLD_EDGE, evaluate_alignment
from psqe_pyg.metrics import seed_quality
from psqe_pyg.nn.aligner import MultiModalAligner, aligner_inputs, train_aligner
from psqe_pyg.transforms import get_seeds
from psqe_pyg.transforms.modalities import pair_features

log = logging.getLogger(__name__)


@dataclass
class AlignerConfig:
    """The aligner's architecture and training (see :class:`~psqe_pyg.nn.MultiModalAligner` and
    :func:`~psqe_pyg.nn.train_aligner`)."""
    hidden: int = 96
    heads: int = 2
    num_layers: int = 2
    attention: bool = False
    steps: int = 200
    lr: float = 0.005
    weight_decay: float = 0.0
    batch_size: int = 1024
    temperature: float = 0.1
    refine_every: int = 25


def _gold(data: HeteroData):
    return data[GOLD_EDGE].edge_index if GOLD_EDGE in data.edge_types else None


def train_and_evaluate(data: HeteroData, config: AlignerConfig | None = None, *, device: str = 'cpu',
                       seed: int = 0, csls_k: int | None = 10, progress: bool = True) -> dict:
    """Trains a :class:`~psqe_pyg.nn.MultiModalAligner` on the pair's ``('src', 'pseudo_seed', 'tgt')`` edges
    and evaluates it on the test links (:func:`~psqe_pyg.evaluation.evaluate_alignment`).

    ``seed`` fixes the initialisation and the shuffles. Returns the evaluation with ``'training'``: the
    config, the seeds given and those iterative learning ended with (their precision when the pair has gold
    links), the loss curve and the wall times.
    """
    config = config or AlignerConfig()
    seeds = get_seeds(data).edge_index
    start = time.perf_counter()
    inputs = aligner_inputs(data).to(device)
    # initialised on the CPU (its generator gives the same weights on every device), then moved
    with torch.random.fork_rng(devices=[]), torch.device('cpu'):
        torch.manual_seed(seed)
        model = MultiModalAligner.for_inputs(inputs, hidden=config.hidden, heads=config.heads,
                                             num_layers=config.num_layers, attention=config.attention)
    model = model.to(device)
    trained = train_aligner(model, inputs, seeds, steps=config.steps, lr=config.lr,
                            weight_decay=config.weight_decay, batch_size=config.batch_size,
                            temperature=config.temperature, refine_every=config.refine_every, seed=seed,
                            progress=progress)
    src, tgt = model.embed(inputs)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    out = evaluate_alignment(data, src, tgt, csls_k=csls_k)
    gold = _gold(data)
    out['training'] = {
        'config': asdict(config), 'device': str(device), 'seed': seed,
        'seeds': len(seeds[0]), 'final_pairs': trained.pairs.size(1), 'rounds': trained.rounds,
        'fusion_weights': model.fusion_weights, 'loss': trained.loss,
        'seed_precision': None if gold is None else seed_quality(seeds, gold)['precision'],
        'final_pair_precision': None if gold is None else seed_quality(trained.pairs, gold)['precision'],
        'train_s': train_s, 'eval_s': time.perf_counter() - start,
    }
    return out


def names_only(data: HeteroData, *, csls_k: int | None = 10) -> dict:
    """The floor: the test links ranked by the cosine of the name embeddings ``x_name``, no training."""
    names = pair_features(data, 'x_name')
    if names is None:
        raise ValueError("names-only evaluation needs data['src'].x_name and data['tgt'].x_name")
    return evaluate_alignment(data, *names, csls_k=csls_k)
