"""Seed quality of PSQE against the VisualPivot baseline at the same budget, on the six shared datasets.

    python benchmarks/seeds.py [--root ../shared/data] [--datasets DBP15K/zh_en ...] [--epochs 50]

Writes benchmarks/results/seeds.json (seeds, precision, recall and coverage balance per stage, wall time per
stage, and PSQE's precision and time as a ratio of the pivot's, measured in the same run) and the coverage
plot benchmarks/results/seeds_<dataset>.png for every dataset.
"""
import argparse
import logging
import time

from common import DEFAULT_DATA, RESULTS, earlier_entries, write_result

from psqe_pyg.datasets import load_dataset
from psqe_pyg.report import plot_seed_report, run_seed_method
from psqe_pyg.transforms import NameNgramFeatures
from psqe_pyg.transforms import defaults as D

DATASETS = ['DBP15K/zh_en', 'DBP15K/ja_en', 'DBP15K/fr_en', 'SRPRS/en_fr', 'SRPRS/en_de', 'SRPRS/dbp_wd']


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--datasets', nargs='+', default=DATASETS)
    parser.add_argument('--budget', type=int, default=1000)
    parser.add_argument('--epochs', type=int, default=D.EPOCHS, help='PSQE stage-2 epochs')
    parser.add_argument('--name-encoder', default='auto')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default='seeds')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')

    results = earlier_entries(args.out, 'datasets')  # keep the datasets this run does not redo
    for spec in args.datasets:
        start = time.perf_counter()
        # Pairs without attribute files get name n-gram hashes as x_attr (the set-up of DESIGN §7).
        data = NameNgramFeatures()(load_dataset(spec, args.root, name_encoder=args.name_encoder))
        load_s = time.perf_counter() - start
        pivot = run_seed_method(data, 'pivot', budget=args.budget, seed=args.seed, progress=False)
        psqe = run_seed_method(data, 'psqe', budget=args.budget, seed=args.seed, epochs=args.epochs,
                               progress=True)
        final = list(psqe['stages'].values())[-1]
        base = pivot['stages']['pivot']
        results[spec] = {
            'load_s': load_s, 'pivot': pivot, 'psqe': psqe,
            'psqe_total_s': sum(row['time_s'] for row in psqe['stages'].values()),
            'ratio_vs_pivot': {
                'precision': final['precision'] / max(base['precision'], 1e-12),
                'seeds': final['seeds'] / max(base['seeds'], 1),
                'time': sum(r['time_s'] for r in psqe['stages'].values()) / max(base['time_s'], 1e-12),
            },
        }
        plot_seed_report([pivot, psqe], str(RESULTS / f"seeds_{spec.replace('/', '_')}.png"),
                         title=f'{spec}: share of seed ends per degree bucket')
        logging.info('%s: PSQE %d seeds at %.3f precision; pivot %d at %.3f', spec, final['seeds'],
                     final['precision'], base['seeds'], base['precision'])
        path = write_result(args.out, {'budget': args.budget, 'epochs': args.epochs,
                                       'name_encoder': args.name_encoder, 'seed': args.seed,
                                       'datasets': results})
    (RESULTS / f'{args.out}.md').write_text(markdown_table(results, args.budget))
    logging.info('wrote %s and its Markdown table', path)


def markdown_table(results: dict, budget: int) -> str:
    """One row per dataset and method: seeds, precision (raw / verifiable), recall, degree TV, time."""
    lines = [f'Budget {budget}. Precision: raw (all seeds) / verifiable (seeds with an end in the gold links). '
             'TV: total-variation distance between the seeds\' and the entities\' degree-bucket shares '
             '(0 = spread like the entities).', '',
             '| dataset | method | seeds | precision | recall | degree TV | time (s) |',
             '|---|---|---|---|---|---|---|']
    for spec, res in results.items():
        rows = [('VisualPivot', res['pivot']['stages']['pivot'], res['pivot']['stages']['pivot']['time_s'])]
        for stage, row in res['psqe']['stages'].items():
            rows.append((f'PSQE {stage}', row, row['time_s']))
        for method, row, secs in rows:
            lines.append(f"| {spec} | {method} | {row['seeds']} | {row['precision']:.3f} / "
                         f"{row['verifiable_precision']:.3f} | {row['recall']:.3f} | "
                         f"{row['coverage_degree']['tv_distance']:.3f} | {secs:.1f} |")
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    main()
