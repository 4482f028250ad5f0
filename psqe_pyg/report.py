"""Seed reports: how many seeds each stage made, how precise they are, and where in the graph they fall; the
score plot of a predicted alignment.

The gold links are read here for reporting only; no seed generator sees them.
"""
import logging
import warnings

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from psqe_pyg import metrics, pipeline
from psqe_pyg.pair.schema import SAME_AS
from psqe_pyg.pair.seeds import Seeds, get_history
from psqe_pyg.prediction import Alignment
from psqe_pyg.transforms import defaults as D

log = logging.getLogger(__name__)


def _both_sides(data: HeteroData, seeds: Seeds) -> Tensor:
    """Seed ends as ids over the entities of both KGs (targets shifted by ``N_src``): ``[2 S]``."""
    return torch.cat([seeds.edge_index[0], seeds.edge_index[1] + data['src'].num_nodes])


def degree_groups(data: HeteroData, num_buckets: int = 5) -> tuple[Tensor, Tensor]:
    """Degree bucket of every entity of both KGs (quantiles over both): ``[N_src + N_tgt]``, and the degree."""
    degree = torch.cat([metrics.degree(data, 'src'), metrics.degree(data, 'tgt')])
    return metrics.degree_buckets(degree, num_buckets), degree


def seed_report(data: HeteroData, stages: dict[str, Seeds], timings: dict[str, float] | None = None,
                num_buckets: int = 5) -> dict:
    """Per stage: seed count, precision/recall against the gold links, coverage balance by degree bucket
    and (when the pair has ``cluster`` labels) by cluster."""
    gold = data[SAME_AS].edge_index if SAME_AS in data.edge_types else None
    groups, degree = degree_groups(data, num_buckets)
    num_groups = int(groups.max()) + 1 if groups.numel() else 0
    has_clusters = 'cluster' in data['src'] and 'cluster' in data['tgt']
    clusters = torch.cat([data['src'].cluster, data['tgt'].cluster]) if has_clusters else None
    out = {}
    for name, seeds in stages.items():
        row = {'seeds': len(seeds)}
        if gold is not None:
            row.update(metrics.seed_quality(seeds.edge_index, gold))
        nodes = _both_sides(data, seeds)
        row['coverage_degree'] = metrics.coverage_balance(nodes, groups, num_groups)
        if clusters is not None:
            row['coverage_cluster'] = metrics.coverage_balance(nodes, clusters, int(clusters.max()) + 1)
        row['time_s'] = (timings or {}).get(name, 0.0)
        out[name] = row
    # Quantile buckets keep equal degrees together, so with heavy ties a bucket can be empty: [None, None].
    bucket_edges = [[int(degree[groups == g].min()), int(degree[groups == g].max())] if (groups == g).any()
                    else [None, None] for g in range(num_groups)]
    return {'stages': out, 'degree_buckets': bucket_edges}


def generate_seeds(data: HeteroData, method: str = 'psqe', **kwargs) -> tuple[HeteroData, dict[str, Seeds],
                                                                              dict[str, float]]:
    """Deprecated: :func:`psqe_pyg.pipeline.generate_seeds` (its result carries the history and timings,
    :func:`~psqe_pyg.pair.get_history`). Returns ``(seeded copy, {stage: Seeds}, {stage: seconds})``."""
    warnings.warn('psqe_pyg.report.generate_seeds is deprecated and will be removed in the next release; use '
                  'psqe_pyg.pipeline.generate_seeds and psqe_pyg.pair.get_history', DeprecationWarning, stacklevel=2)
    out = pipeline.generate_seeds(data, method, **kwargs)
    return (out, *get_history(out))


def run_seed_method(data: HeteroData, method: str = 'psqe', *, budget: int = D.BUDGET, seed: int = 0,
                    progress: bool = True, **psqe_kwargs) -> dict:
    """Runs ``'psqe'`` or ``'pivot'`` on ``data`` (:func:`~psqe_pyg.pipeline.generate_seeds`) and returns its
    :func:`seed_report` (with wall times)."""
    data = pipeline.generate_seeds(data, method, budget=budget, seed=seed, progress=progress, **psqe_kwargs)
    return {'method': method, 'budget': budget, 'seed': seed, **seed_report(data, *get_history(data))}


def plot_seed_report(reports: list[dict], path: str, title: str | None = None) -> None:
    """Bar chart of each degree bucket's share of seeds against its share of entities, one group of bars
    per stage of every report (e.g. PSQE's stages and the pivot baseline)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    series = [(f"{r['method']}:{stage}", row['coverage_degree'])
              for r in reports for stage, row in r['stages'].items()]
    if not series:
        raise ValueError('nothing to plot: the reports hold no stages')
    buckets = reports[0]['degree_buckets']
    labels = ['(empty)' if lo is None else f'{lo}' if lo == hi else f'{lo}-{hi}' for lo, hi in buckets]
    width = 0.8 / (len(series) + 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(labels)), 4))
    xs = range(len(labels))
    ax.bar([x - 0.4 + width / 2 for x in xs], series[0][1]['entity_share'], width, color='lightgray',
           label='entities')
    for i, (name, cov) in enumerate(series, start=1):
        ax.bar([x - 0.4 + width / 2 + i * width for x in xs], cov['seed_share'], width,
               label=f"{name} (TV {cov['tv_distance']:.2f})")
    ax.set_xticks(list(xs), labels)
    _finish(fig, ax, path, 'entity degree (bucket range)', 'share',
            title or 'Where the seeds fall: share of seed ends vs share of entities', legend_size=7)


def plot_score_distribution(alignment: Alignment, path: str, title: str | None = None) -> None:
    """Histogram of the decoded pairs' scores (mutual nearest neighbours and the others stacked) with the
    no-counterpart threshold marked: where the tool stopped trusting itself."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if alignment.score.numel() == 0:
        raise ValueError('nothing to plot: the alignment holds no pairs')
    scores = alignment.score.double().cpu()
    mutual = alignment.mutual.cpu()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist([scores[mutual].numpy(), scores[~mutual].numpy()], bins=60, stacked=True,
            color=['tab:blue', 'tab:orange'],
            label=[f'mutual nearest neighbours ({int(mutual.sum()):,})',
                   f'not mutual ({int((~mutual).sum()):,})'])
    if alignment.threshold is not None:
        kept = int((scores >= alignment.threshold).sum())
        ax.axvline(alignment.threshold, color='black', linestyle='--',
                   label=f'threshold {alignment.threshold:.3f}: {kept:,} of {len(scores):,} pairs at or above')
    _finish(fig, ax, path, 'cosine of the decoded pair (one-to-one)', 'pairs', title or 'Scores of the aligned pairs',
            legend_size=8)


def _finish(fig, ax, path: str, xlabel: str, ylabel: str, title: str, legend_size: int) -> None:
    """Labels, legend, and the PNG written to ``path``; the figure is closed."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
