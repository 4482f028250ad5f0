"""The end-to-end unsupervised pipeline: pseudo seeds -> aligner -> predicted alignment, and its evaluation on
the test links when the pair has them."""
import logging
import time
from dataclasses import asdict

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg.evaluation import evaluate_alignment, gold_links
from psqe_pyg.metrics import seed_quality
from psqe_pyg.nn.aligner import (AlignerConfig, MultiModalAligner, aligner_inputs, late_fusion,
                                  propagated_features, train_aligner)
from psqe_pyg.pair.modalities import pair_features
from psqe_pyg.pair.schema import SAME_AS
from psqe_pyg.pair.seeds import get_history, get_seeds
from psqe_pyg.prediction import Alignment, alignment_quality, predict_alignment
from psqe_pyg.transforms import PSQE, VisualPivot
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)


def generate_seeds(data: HeteroData, method: str = 'psqe', *, budget: int = D.BUDGET, seed: int = 0,
                   progress: bool = True, **psqe_kwargs) -> HeteroData:
    """Runs ``'psqe'`` (:class:`~psqe_pyg.transforms.PSQE`, ``psqe_kwargs`` go to it) or ``'pivot'``
    (:class:`~psqe_pyg.transforms.VisualPivot`) on ``data``, which is left alone.

    Returns the seeded copy; it carries the seeds after every stage and each stage's wall time
    (:func:`~psqe_pyg.pair.get_history`) and, for PSQE, the stage-1 clusters (for per-cluster coverage).
    """
    if method == 'psqe':
        return PSQE(budget, seed=seed, progress=progress, **psqe_kwargs)(data)
    if method == 'pivot':
        return VisualPivot(budget, seed=seed)(data)
    raise ValueError(f"method must be 'psqe' or 'pivot', got {method!r}")


def _gold(data: HeteroData):
    return data[SAME_AS].edge_index if SAME_AS in data.edge_types else None


def train_on_seeds(data: HeteroData, config: AlignerConfig | None = None, *, device: str = 'cpu',
                   seed: int = 0, progress: bool = True) -> tuple[Tensor, Tensor, dict]:
    """Trains a :class:`~psqe_pyg.nn.MultiModalAligner` on the pair's ``('src', 'pseudo_seed', 'tgt')`` edges.

    ``seed`` fixes the initialisation and the shuffles. With ``config.propagated > 0`` the trained embeddings
    are concatenated with :func:`~psqe_pyg.nn.aligner.propagated_features` (late fusion; the seeds and
    iterative learning see the trained part only). Returns the final embeddings of all entities on
    ``device``, ``[N_src, D]`` and ``[N_tgt, D]``, and ``training``: the config, the seeds given and those iterative
    learning ended with (their precision when the pair has gold links), the loss curve and the wall time.
    """
    config = config or AlignerConfig()
    seeds = get_seeds(data).edge_index
    start = time.perf_counter()
    inputs = aligner_inputs(data).to(device)
    # initialised on the CPU (its generator gives the same weights on every device), then moved
    with torch.random.fork_rng(devices=[]), torch.device('cpu'):
        torch.manual_seed(seed)
        model = MultiModalAligner.for_inputs(inputs, hidden=config.hidden, heads=config.heads,
                                             num_layers=config.num_layers, attention=config.attention,
                                             entity_dim=config.entity_dim)
    model = model.to(device)
    steps = 0 if config.propagated == 1.0 else config.steps  # no trained part in the embeddings: skip it
    trained = train_aligner(model, inputs, seeds, steps=steps, lr=config.lr,
                            weight_decay=config.weight_decay, entity_lr=config.entity_lr,
                            batch_size=config.batch_size,
                            temperature=config.temperature, refine_every=config.refine_every,
                            refine_min_score=config.refine_min_score, refine_growth=config.refine_growth,
                            refine_quantile=config.refine_quantile,
                            seed=seed, progress=progress)
    with torch.no_grad():
        src, tgt = model.embed(inputs)
        if config.propagated > 0.0:
            src, tgt = late_fusion(src, tgt, propagated_features(inputs, config.num_layers), config.propagated)
    gold = _gold(data)
    training = {
        'config': asdict(config), 'device': str(device), 'seed': seed,
        'seeds': len(seeds[0]), 'final_pairs': trained.pairs.size(1), 'rounds': trained.rounds,
        'fusion_weights': model.fusion_weights, 'loss': trained.loss,
        'seed_precision': None if gold is None else seed_quality(seeds, gold)['precision'],
        'final_pair_precision': None if gold is None else seed_quality(trained.pairs, gold)['precision'],
        'train_s': time.perf_counter() - start, 'refine_s': trained.refine_seconds,
    }
    return src, tgt, training


def train_and_evaluate(data: HeteroData, config: AlignerConfig | None = None, *, device: str = 'cpu',
                       seed: int = 0, csls_k: int | None = 10, progress: bool = True) -> dict:
    """:func:`train_on_seeds`, then the evaluation on the test links
    (:func:`~psqe_pyg.evaluation.evaluate_alignment`), with ``'training'`` (and its ``'eval_s'``) added."""
    src, tgt, training = train_on_seeds(data, config, device=device, seed=seed, progress=progress)
    start = time.perf_counter()
    out = evaluate_alignment(data, src, tgt, csls_k=csls_k)
    out['training'] = {**training, 'eval_s': time.perf_counter() - start}
    return out


def align_and_report(data: HeteroData, *, seeds: str = 'psqe', budget: int = D.BUDGET,
                     config: AlignerConfig | None = None, device: str = 'cpu', seed: int = 0,
                     threshold: float | str | None = 'auto', evaluate: bool = True, csls_k: int | None = 10,
                     progress: bool = True, **psqe_kwargs) -> tuple[Alignment, dict]:
    """Seeds -> aligner -> one-to-one decoding, and a report (what ``psqe-pyg align`` runs).

    Returns every decoded pair (:func:`~psqe_pyg.prediction.predict_alignment`, with the no-counterpart
    threshold) and a dict: ``'seeds'``, ``'training'`` (see :func:`train_on_seeds`), ``'alignment'``
    (threshold, decoded / accepted / mutual counts) and, with ``evaluate`` and test links, the metrics of
    :func:`~psqe_pyg.evaluation.evaluate_alignment` at the top level and ``alignment['quality']``: the
    :func:`~psqe_pyg.prediction.alignment_quality` of the accepted pairs (``'accepted'``) and of all
    decoded pairs (``'all'``) against the test links. ``'evaluation'`` says whether it was evaluated. The
    gold links never influence the alignment.
    """
    seeded = generate_seeds(data, seeds, budget=budget, seed=seed, progress=progress, **psqe_kwargs)
    _, timings = get_history(seeded)
    src, tgt, training = train_on_seeds(seeded, config, device=device, seed=seed, progress=progress)
    start = time.perf_counter()
    decoded = predict_alignment(src, tgt, threshold=threshold, seed=seed)
    accepted = decoded.accepted()
    result = {'seeds': {'method': seeds, 'budget': budget, 'time_s': sum(timings.values())}}
    summary = {'threshold': decoded.threshold, 'decoded': len(decoded.src), 'accepted': len(accepted.src),
               'mutual': int(decoded.mutual.sum()), 'accepted_mutual': int(accepted.mutual.sum())}
    try:
        links = gold_links(data) if evaluate else None
    except ValueError as e:  # no gold links, or no test links among them
        links, result['evaluation'] = None, f'skipped: {e}'
    if links is not None:
        result['evaluation'] = 'test links'
        result.update(evaluate_alignment(data, src, tgt, csls_k=csls_k))
        summary['quality'] = {'accepted': alignment_quality(accepted, links),
                              'all': alignment_quality(decoded, links)}
    training['eval_s'] = time.perf_counter() - start
    result['training'] = training
    result['alignment'] = summary
    return decoded, result


def align_pair(data: HeteroData, *, seeds: str = 'psqe', budget: int = D.BUDGET, config: AlignerConfig | None = None,
               device: str = 'cpu', seed: int = 0, keep_all: bool = False, progress: bool = True,
               **psqe_kwargs) -> Alignment:
    """The predicted alignment of a KG pair, no gold links needed: ``seeds`` (``'psqe'`` or ``'pivot'``) with
    ``budget`` pairs, an aligner trained on them, and one-to-one decoding of all entities of both KGs by the
    cosine of the final embeddings.

    Returns an :class:`~psqe_pyg.prediction.Alignment` (``src``, ``tgt``, ``score``, ``mutual`` ``[P]``,
    best first; ``.rows(data)`` gives the entities as written in the input) holding the pairs at or above the
    no-counterpart threshold (:func:`~psqe_pyg.prediction.no_counterpart_threshold`, chosen from the
    decoded scores alone), or every source's decoded target with ``keep_all=True``.
    :func:`~psqe_pyg.prediction.write_alignment` writes it as TSV. Gold links, when present, influence nothing.
    """
    decoded = align_and_report(data, seeds=seeds, budget=budget, config=config, device=device, seed=seed,
                               evaluate=False, progress=progress, **psqe_kwargs)[0]
    return decoded if keep_all else decoded.accepted()


def names_only(data: HeteroData, *, csls_k: int | None = 10) -> dict:
    """The floor: the test links ranked by the cosine of the name embeddings ``x_name``, no training."""
    names = pair_features(data, 'x_name')
    if names is None:
        raise ValueError("names-only evaluation needs data['src'].x_name and data['tgt'].x_name")
    return evaluate_alignment(data, *names, csls_k=csls_k)
