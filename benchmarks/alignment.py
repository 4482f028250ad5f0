"""Does PSQE train a better aligner than naive seeds? The study of issue 4 on the six shared datasets.

    python benchmarks/alignment.py [--root ../shared/data] [--datasets DBP15K/zh_en ...]

For every dataset, one row per set-up:

* ``names``: names-only similarity (the `--name-encoder` embeddings, no training): the floor;
* ``pivot``: the aligner trained on VisualPivot seeds (greedy one-to-one on the names, same budget);
* ``psqe``: the aligner trained on PSQE seeds;
* ``psqe_no_clustering``: PSQE with stage 1's k-means skipped (``num_clusters=0``: one cluster);
* ``psqe_no_expansion``: PSQE without stage 3 (its seeds after stage 2's error correction, which are what
  ``PSQE(expand=False)`` returns: stage 3 runs after them);
* ``pivot_no_il``, ``psqe_no_il``: the aligner on the pivot / PSQE seeds without iterative learning, so that
  the seeds alone decide what it learns;
* ``pivot_propagated``, ``psqe_propagated``: the aligner's embeddings late-fused with the training-free
  propagated features (``AlignerConfig()``'s ``propagated`` share, chosen on validation links); every other
  aligner row is the trained aligner alone (``propagated=0``);
* ``training_free``: the propagated features alone (``propagated=1``: no seeds, no training).

Columns: the name encoder (what ``--name-encoder`` resolved to), seeds and their precision, Hits@1/10 and MRR
on the test links (mean of both directions, pessimistic ranks: a tie counts against), Hits@1
against every entity of the other KG, Hits@1 after greedy / Sinkhorn / exact-assignment one-to-one decoding,
Hits@1 of the sparsest and densest third of test source entities by degree, wall time (seeds + training +
evaluation).
Writes ``benchmarks/results/alignment.json``, ``alignment.md`` and ``alignment_degree.png`` (Hits@1 by degree
bucket, pivot against PSQE, every dataset).

``--rows`` reruns some rows and keeps a dataset's other rows from the earlier run (each row records the
environment it ran in).

Seed sets are cached under ``.cache/alignment_seeds/`` (keyed by dataset, set-up and every option), with the
wall time they took, so the aligner can be rerun without regenerating them; ``--only-seeds`` fills the cache.
"""
import argparse
import copy
import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import torch
from common import DEFAULT_DATA, REPO, RESULTS, earlier_entries, environment, write_result

from psqe_pyg.datasets import load_dataset
from psqe_pyg.features import resolve_name_encoder
from psqe_pyg.metrics import seed_quality
from psqe_pyg.pair import SAME_AS, Seeds, get_history, set_seeds
from psqe_pyg.pipeline import AlignerConfig, generate_seeds, names_only, train_and_evaluate
from psqe_pyg.transforms import NameNgramFeatures
from psqe_pyg.transforms import defaults as D

DATASETS = ['DBP15K/zh_en', 'DBP15K/ja_en', 'DBP15K/fr_en', 'SRPRS/en_fr', 'SRPRS/en_de', 'SRPRS/dbp_wd']
SEED_CACHE = REPO / '.cache' / 'alignment_seeds'
# set-up -> (method, PSQE options, the stage whose seeds are used)
SEED_SETUPS = {
    'pivot': ('pivot', {}, 'pivot'),
    'psqe': ('psqe', {}, 'stage3_correction'),
    'psqe_no_expansion': ('psqe', {}, 'stage2_correction'),
    'psqe_no_clustering': ('psqe', {'num_clusters': 0}, 'stage3_correction'),
}

NO_IL_SETUPS = ('pivot', 'psqe')  # also trained without iterative learning, as '<set-up>_no_il'
PROPAGATED_SETUPS = ('pivot', 'psqe')  # also late-fused (the default aligner), as '<set-up>_propagated'
TRAINED = AlignerConfig(propagated=0.0)  # the trained aligner alone
# row -> (seed set-up, aligner config)
ROWS = {
    **{setup: (setup, TRAINED) for setup in SEED_SETUPS},
    **{f'{setup}_no_il': (setup, AlignerConfig(propagated=0.0, refine_every=0)) for setup in NO_IL_SETUPS},
    **{f'{setup}_propagated': (setup, AlignerConfig()) for setup in PROPAGATED_SETUPS},
    'training_free': ('pivot', AlignerConfig(propagated=1.0)),  # the seeds are not read
}
log = logging.getLogger('alignment')


def _cache_path(spec: str, method: str, options: dict) -> Path:
    key = json.dumps({'spec': spec, 'method': method, **options}, sort_keys=True)
    digest = hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
    return SEED_CACHE / f"{spec.replace('/', '_')}_{method}_{digest}.pt"


def seed_sets(data, spec: str, *, budget: int, epochs: int, seed: int, name_encoder: str,
              setups: tuple[str, ...] = tuple(SEED_SETUPS)) -> dict[str, tuple]:
    """``{set-up: (Seeds, seconds)}`` for the ``setups`` of :data:`SEED_SETUPS`, generated or read from the
    cache. The seconds are the wall time of the stages that made those seeds."""
    runs: dict[tuple, tuple] = {}
    out = {}
    for setup in setups:
        method, extra, stage = SEED_SETUPS[setup]
        options = {'budget': budget, 'seed': seed, 'name_encoder': name_encoder, **extra}
        if method == 'psqe':
            options['epochs'] = epochs
        path = _cache_path(spec, method, options)
        if path not in runs:
            if path.exists():
                runs[path] = torch.load(path)
                log.info('%s %s: seeds read from %s', spec, setup, path)
            else:
                kwargs = {k: v for k, v in options.items() if k not in ('budget', 'seed', 'name_encoder')}
                stages, timings = get_history(generate_seeds(data, method, budget=budget, seed=seed, progress=False,
                                                             **kwargs))
                runs[path] = {'stages': {k: tuple(v) for k, v in stages.items()}, 'timings': timings,
                              'options': options}
                path.parent.mkdir(parents=True, exist_ok=True)
                torch.save(runs[path], path)
        run = runs[path]
        names = list(run['stages'])
        seconds = sum(run['timings'][name] for name in names[:names.index(stage) + 1])
        out[setup] = (Seeds(*run['stages'][stage]), seconds)
    return out


def load_pair(spec: str, root: str, name_encoder: str):
    # Pairs without attribute files get name n-gram hashes as x_attr (the set-up of DESIGN §7).
    return NameNgramFeatures()(load_dataset(spec, root, name_encoder=name_encoder))


def run_dataset(spec: str, args, earlier: dict) -> dict:
    """The rows ``args.rows`` of one dataset, the names-only floor and ``earlier['rows']`` not rerun."""
    start = time.perf_counter()
    data = load_pair(spec, args.root, args.name_encoder)
    load_s = time.perf_counter() - start
    sets = seed_sets(data, spec, budget=args.budget, epochs=args.epochs, seed=args.seed,
                     name_encoder=args.name_encoder, setups=tuple(dict.fromkeys(ROWS[r][0] for r in args.rows)))
    gold = data[SAME_AS].edge_index
    env = environment()
    start = time.perf_counter()
    rows = {'names': {**names_only(data), 'wall_s': time.perf_counter() - start, 'environment': env}}
    rows.update({name: row for name, row in earlier.get('rows', {}).items()
                 if name not in rows and name not in args.rows})
    for name in args.rows:
        setup, config = ROWS[name]
        seeds, seed_s = sets[setup]
        seed_s = 0.0 if config.propagated == 1.0 else seed_s  # training-free: the seeds are not read
        result = train_and_evaluate(set_seeds(copy.copy(data), seeds), config, seed=args.seed,
                                    progress=not args.quiet)
        training = result['training']
        result['seed_quality'] = seed_quality(seeds.edge_index, gold)
        result['seed_s'] = seed_s
        result['wall_s'] = seed_s + training['train_s'] + training['eval_s']
        result['environment'] = env
        rows[name] = result
        log.info('%s %s: %d seeds (precision %.3f) -> Hits@1 %.3f (one-to-one %.3f), %.0f s', spec, name,
                 len(seeds), result['seed_quality']['precision'], result['cosine']['mean']['hits@1'],
                 result['one_to_one_hits@1'], result['wall_s'])
    out = {'name_encoder': resolve_name_encoder(args.name_encoder), 'load_s': load_s, 'rows': rows}
    if 'psqe' in rows and 'pivot' in rows:
        out['ratio_psqe_vs_pivot'] = {
            'hits@1': rows['psqe']['cosine']['mean']['hits@1'] / rows['pivot']['cosine']['mean']['hits@1'],
            'wall_s': rows['psqe']['wall_s'] / rows['pivot']['wall_s']}
    return out


def _pct(v: float) -> str:
    return f'{100 * v:.1f}'


def _opt_pct(v: float | dict | None) -> str:
    """A percentage, the mean Hits@1 of a ranking_metrics dict, or '–' where the result lacks it."""
    if isinstance(v, dict):
        v = v['mean']['hits@1']
    return '–' if v is None else _pct(v)


def markdown_table(results: dict) -> str:
    """One row per dataset and set-up (see the module docstring)."""
    lines = ['| dataset | names | set-up | seeds | seed precision | Hits@1 | Hits@10 | MRR | Hits@1 all | '
             'Hits@1 1-to-1 | Hits@1 Sinkhorn | Hits@1 assignment | Hits@1 sparsest third | Hits@1 densest third | wall time (s) |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for spec, res in results.items():
        for setup, row in res['rows'].items():
            cos = row['cosine']['mean']
            thirds = row['by_degree']
            one = row.get('one_to_one', {})  # results from before the decoders have only the greedy value
            if setup in ('names', 'training_free'):
                seeds, precision = '–', '–'
            else:
                seeds, precision = str(row['seed_quality']['num_seeds']), _pct(row['seed_quality']['precision'])
            lines.append(f"| {spec} | {res.get('name_encoder', '–')} | {setup} | {seeds} | {precision} | "
                         f"{_pct(cos['hits@1'])} | "
                         f"{_pct(cos['hits@10'])} | {cos['mrr']:.3f} | {_opt_pct(row.get('cosine_all'))} | "
                         f"{_pct(row['one_to_one_hits@1'])} | {_opt_pct(one.get('sinkhorn'))} | "
                         f"{_opt_pct(one.get('assignment'))} | "
                         f"{_pct(thirds[0]['hits@1'])} | {_pct(thirds[-1]['hits@1'])} | {row['wall_s']:.0f} |")
    return '\n'.join(lines) + '\n'


def plot_by_degree(results: dict, path: Path) -> None:
    """Hits@1 per degree third of the test sources, pivot against PSQE seeds, one panel per dataset."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), squeeze=False)
    for ax, (spec, res) in zip(axes[0], results.items()):
        for i, (setup, color) in enumerate((('pivot', 'tab:gray'), ('psqe', 'tab:blue'))):
            groups = res['rows'][setup]['by_degree']
            xs = [g + (i - 0.5) * 0.38 for g in range(len(groups))]
            ax.bar(xs, [100 * g['hits@1'] for g in groups], 0.38, color=color, label=setup)
        labels = ['–' if g['degree'] is None else f"{g['degree'][0]}-{g['degree'][1]}"
                  for g in res['rows']['psqe']['by_degree']]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(spec, fontsize=9)
        ax.set_xlabel('source degree (thirds)', fontsize=8)
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel('Hits@1 (%)')
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--datasets', nargs='+', default=DATASETS)
    parser.add_argument('--budget', type=int, default=1000)
    parser.add_argument('--epochs', type=int, default=D.EPOCHS, help='PSQE stage-2 epochs')
    parser.add_argument('--name-encoder', default='auto')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--rows', nargs='+', default=list(ROWS), choices=list(ROWS),
                        help="aligner rows to run (default: all; names-only always runs; a dataset's other "
                             'rows are kept from the earlier run)')
    parser.add_argument('--only-seeds', action='store_true', help='fill the seed cache and stop')
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if args.only_seeds:
        for spec in args.datasets:
            data = load_pair(spec, args.root, args.name_encoder)
            for setup, (seeds, secs) in seed_sets(data, spec, budget=args.budget, epochs=args.epochs,
                                                  seed=args.seed, name_encoder=args.name_encoder).items():
                log.info('%s %s: %d seeds, %.1f s', spec, setup, len(seeds), secs)
        return
    results = earlier_entries('alignment', 'datasets')  # keep the datasets this run does not redo
    for spec in args.datasets:
        results[spec] = {**run_dataset(spec, args, results.get(spec, {})), 'environment': environment()}
        payload = {'budget': args.budget, 'psqe_epochs': args.epochs, 'name_encoder': args.name_encoder,
                   'seed': args.seed, 'aligner': asdict(AlignerConfig()),
                   'note': 'rows *_propagated run the aligner above; the others propagated=0 (*_no_il also '
                           'refine_every=0), training_free propagated=1; wall_s = seed generation (its cached time) + '
                           'training + evaluation; each row records its environment',
                   'datasets': results}
        path = write_result('alignment', payload)
    (RESULTS / 'alignment.md').write_text(markdown_table(results))
    plot_by_degree(results, RESULTS / 'alignment_degree.png')
    log.info('wrote %s, alignment.md and alignment_degree.png', path)


if __name__ == '__main__':
    main()
