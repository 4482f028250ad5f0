"""Where does PSQE pay off? Pivot against PSQE seeds when the primary modality is weak (issue 14, part 5).

    python benchmarks/regime.py --runs synthetic:img=0.5 synthetic:img=2 DBP15K/zh_en:hash ...

A run is ``<dataset>:<regime>``. The dataset is ``synthetic`` (the built-in pair, images as the primary
modality) or a registered pair (``DBP15K/zh_en``, ...). The regime weakens the primary modality:

* ``names``: the pair as loaded (the default `auto` names), the strong case;
* ``hash``: names by the character-n-gram hashing encoder instead of the default;
* ``shuffled=P``: the default names, a share ``P`` of the source entities' names permuted among them (seeded);
* ``structure``: no names and no attributes; the relation bag ``x_rel`` is the primary modality;
* ``img=S`` (synthetic only): image noise ``S`` (the generator's ``img_noise``; names keep their noise).

For every run: pivot and PSQE seeds at the same budget, the same aligner with and without iterative learning
(:data:`CONFIGS`: the trained aligner alone, ``'il'`` and ``'no_il'``, and the default aligner, late-fused with
the training-free propagated features, ``'fused'``); test Hits@1 overall and per source-degree third (cosine,
pessimistic ties), seed precision and the seeds' degree-coverage balance.
Writes ``benchmarks/results/regime.json`` (kept across invocations, one entry per run) and
``regime_gain.png``: PSQE's Hits@1 gain over the pivot against the pivot's seed precision.
"""
import argparse
import copy
import logging
import time
from dataclasses import asdict

import torch
from alignment import load_pair
from common import DEFAULT_DATA, RESULTS, earlier_entries, write_result

from psqe_pyg.datasets import SyntheticKGPair
from psqe_pyg.evaluation import evaluate_alignment
from psqe_pyg.nn import AlignerConfig
from psqe_pyg.pair import get_history, set_seeds
from psqe_pyg.pipeline import generate_seeds, train_on_seeds
from psqe_pyg.report import seed_report

log = logging.getLogger('regime')
METHODS = ('pivot', 'psqe')
CONFIGS = {'il': AlignerConfig(propagated=0.0), 'no_il': AlignerConfig(propagated=0.0, refine_every=0),
           'fused': AlignerConfig()}


def degrade(data, regime: str, seed: int):
    """The pair with its primary modality weakened as ``regime`` says (a copy; ``data`` is left alone)."""
    data = copy.copy(data)
    if regime in ('names', 'hash') or regime.startswith('img='):
        return data  # applied when loading
    if regime.startswith('shuffled='):
        share = float(regime.split('=', 1)[1])
        names = data['src'].x_name.clone()
        gen = torch.Generator().manual_seed(seed)
        picked = torch.randperm(names.size(0), generator=gen)[:round(share * names.size(0))]
        names[picked] = names[picked[torch.randperm(picked.numel(), generator=gen)]]
        data['src'].x_name = names
        return data
    if regime == 'structure':
        for nt in ('src', 'tgt'):
            store = data[nt]
            for attr in ('x_img', 'x_attr', 'img_mask'):
                if attr in store:
                    del store[attr]
            store.x_name = store.x_rel
        return data
    raise ValueError(f'unknown regime {regime!r}')


def load(dataset: str, regime: str, root: str, seed: int):
    if dataset == 'synthetic':
        options = {'img_noise': float(regime.split('=', 1)[1])} if regime.startswith('img=') else {}
        return degrade(SyntheticKGPair(seed=seed, **options)[0], regime, seed)
    if regime.startswith('img='):
        raise ValueError(f'{dataset} has no images: the img= regime is for the synthetic pair')
    return degrade(load_pair(dataset, root, 'hash' if regime == 'hash' else 'auto'), regime, seed)


def run(spec: str, args) -> dict:
    dataset, regime = spec.split(':', 1)
    data = load(dataset, regime, args.root, args.seed)
    out = {'dataset': dataset, 'regime': regime, 'budget': args.budget, 'methods': {}}
    for method in METHODS:
        start = time.perf_counter()
        seeded = generate_seeds(data, method, budget=args.budget, seed=args.seed, progress=not args.quiet)
        stages, _ = get_history(seeded)
        seed_s = time.perf_counter() - start
        final = list(stages)[-1]
        report = seed_report(seeded, {final: stages[final]})['stages'][final]
        row = {'seeds': report['seeds'], 'seed_precision': report['precision'],
               'coverage_degree': report['coverage_degree'], 'seed_s': seed_s}
        for name, config in CONFIGS.items():
            src, tgt, training = train_on_seeds(set_seeds(copy.copy(data), stages[final]), config,
                                                seed=args.seed, progress=not args.quiet)
            metrics = evaluate_alignment(data, src, tgt, csls_k=None, one_to_one=False)
            row[name] = {'hits@1': metrics['cosine']['mean']['hits@1'],
                         'hits@1_by_degree_third': [g['hits@1'] for g in metrics['by_degree']],
                         'train_s': training['train_s']}
        out['methods'][method] = row
        log.info('%s %s: %d seeds at %.3f -> Hits@1 %.3f (IL) / %.3f (no IL) / %.3f (fused)', spec, method,
                 row['seeds'], row['seed_precision'], row['il']['hits@1'], row['no_il']['hits@1'],
                 row['fused']['hits@1'])
    out['gain_hits@1'] = {name: out['methods']['psqe'][name]['hits@1'] - out['methods']['pivot'][name]['hits@1']
                          for name in CONFIGS}
    return out


def plot(results: dict, path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    labels = {'il': 'trained, with iterative learning', 'no_il': 'trained, without',
              'fused': 'late-fused (the default aligner)'}
    for name, marker in (('il', 'o'), ('no_il', 's'), ('fused', '^')):
        runs = [r for r in results.values() if name in r['gain_hits@1']]
        xs = [100 * r['methods']['pivot']['seed_precision'] for r in runs]
        ys = [100 * r['gain_hits@1'][name] for r in runs]
        ax.scatter(xs, ys, marker=marker, label=labels[name])
        if name == 'il':
            for spec, x, y in zip(results, xs, ys):
                ax.annotate(spec, (x, y), fontsize=6, xytext=(3, 3), textcoords='offset points')
    ax.axhline(0, color='gray', lw=0.8)
    ax.set_xlabel("pivot's seed precision (%)")
    ax.set_ylabel('PSQE Hits@1 - pivot Hits@1 (points)')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', nargs='+', required=True, help='<dataset>:<regime> (see the module docstring)')
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--budget', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    results = earlier_entries('regime', 'runs')
    for spec in args.runs:
        results[spec] = run(spec, args)
        path = write_result('regime', {'aligner': {name: asdict(c) for name, c in CONFIGS.items()}, 'seed': args.seed,
                                       'runs': results})
    plot(results, RESULTS / 'regime_gain.png')
    log.info('wrote %s and regime_gain.png', path)


if __name__ == '__main__':
    main()
