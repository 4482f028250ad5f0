"""How much of the final embeddings should the training-free propagated features hold? (issue 14, part 3)

    python benchmarks/propagated.py [--datasets DBP15K/zh_en ...] [--shares 0 0.7 0.85 1]

For every pair (loaded as ``benchmarks/alignment.py`` loads it): the pivot's seeds, the aligner trained on them
alone (``AlignerConfig(propagated=0)``), then :func:`psqe_pyg.nn.late_fusion` of its embeddings with
:func:`psqe_pyg.nn.propagated_features` at every share (0: the trained aligner, 1: the propagated features
alone), scored on the **validation** links only (DBP15K's 30%, SRPRS's ``sup``; pessimistic ranks): cosine
Hits@1 (both directions averaged) and Hits@1 after greedy, Sinkhorn and exact-assignment one-to-one decoding
between the links' ends. The share of record maximises the mean of cosine and greedy Hits@1 over the pairs whose
numbers are not all 100 (``AlignerConfig.propagated`` is set from it). Writes
``benchmarks/results/propagated.json`` (kept across invocations, one entry per pair) and ``propagated.md``.
"""
import argparse
import copy
import logging

from alignment import DATASETS, load_pair
from common import DEFAULT_DATA, RESULTS, earlier_entries, environment, write_result

from psqe_pyg.evaluation import evaluate_alignment
from psqe_pyg.nn import AlignerConfig, aligner_inputs, late_fusion, propagated_features
from psqe_pyg.pipeline import generate_seeds, train_on_seeds

log = logging.getLogger('propagated')
DECODERS = ('greedy', 'sinkhorn', 'assignment')


def run(spec: str, args) -> dict:
    data = load_pair(spec, args.root, 'auto')
    seeded = generate_seeds(data, 'pivot', budget=args.budget, seed=args.seed, progress=False)
    config = AlignerConfig(propagated=0.0)
    src, tgt, training = train_on_seeds(seeded, config, seed=args.seed, progress=not args.quiet)
    q = propagated_features(aligner_inputs(copy.copy(seeded)), config.num_layers)
    out = {'seeds': training['seeds'], 'seed_precision': training['seed_precision'], 'shares': {},
           'environment': environment()}
    for share in args.shares:
        metrics = evaluate_alignment(data, *late_fusion(src, tgt, q, share), split='val', csls_k=None,
                                     one_to_one=DECODERS, all_candidates=False, seed=args.seed)
        row = {'cosine': metrics['cosine']['mean']['hits@1'], **metrics['one_to_one']}
        out['shares'][f'{share:g}'] = row
        log.info('%s share %g: validation Hits@1 cosine %.3f, greedy %.3f, assignment %s', spec, share,
                 row['cosine'], row['greedy'], 'none' if row['assignment'] is None else f"{row['assignment']:.3f}")
    return out


def choose(results: dict) -> str | None:
    """The share with the best mean of cosine and greedy validation Hits@1 over the unsaturated pairs."""
    pairs = [r['shares'] for r in results.values()
             if any(v is not None and v < 1.0 for row in r['shares'].values() for v in row.values())]
    common = set.intersection(*(set(p) for p in pairs)) if pairs else set()
    score = {s: sum(p[s]['cosine'] + p[s]['greedy'] for p in pairs) / (2 * len(pairs)) for s in common}
    return max(score, key=score.get) if score else None


def markdown(results: dict, chosen: str | None) -> str:
    shares = sorted({s for r in results.values() for s in r['shares']}, key=float)
    lines = ['| dataset | ' + ' | '.join(f'share {s}{" (chosen)" if s == chosen else ""}' for s in shares) + ' |',
             '|---|' + '---|' * len(shares)]
    for spec, r in results.items():
        cells = []
        for s in shares:
            row = r['shares'].get(s)
            cells.append('–' if row is None else ' / '.join(
                '–' if row[k] is None else f'{100 * row[k]:.1f}' for k in ('cosine', *DECODERS)))
        lines.append(f'| {spec} | ' + ' | '.join(cells) + ' |')
    return ('Validation Hits@1, cosine / greedy / Sinkhorn / assignment, the pivot\'s seeds; '
            'the share of the propagated features in the final embeddings.\n\n' + '\n'.join(lines) + '\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--datasets', nargs='+', default=DATASETS)
    parser.add_argument('--shares', nargs='+', type=float, default=[0.0, 0.7, 0.85, 1.0])
    parser.add_argument('--budget', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quiet', action='store_true', help='no progress bars')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    results = earlier_entries('propagated', 'datasets')
    for spec in args.datasets:
        results[spec] = run(spec, args)
        chosen = choose(results)
        path = write_result('propagated', {'budget': args.budget, 'seed': args.seed, 'chosen': chosen,
                                           'datasets': results})
    (RESULTS / 'propagated.md').write_text(markdown(results, chosen))
    log.info('wrote %s and propagated.md; share of record %s', path, chosen)


if __name__ == '__main__':
    main()
