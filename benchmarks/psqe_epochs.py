"""How many stage-2 epochs? PSQE's seeds against the epochs of its encoder, scored on validation links.

    python benchmarks/psqe_epochs.py [--datasets DBP15K/zh_en DBP15K/ja_en SRPRS/en_fr synthetic] \
        [--epochs 300 100 50 25 10]

For every dataset and every epoch count: the whole PSQE (default arguments but ``epochs``) and, after stage 2's
and stage 3's error correction, the seeds whose source has a *validation* link (DBP15K's 30%, SRPRS's ``sup``,
the synthetic pair's training split): how many and how many of those are right. The default epoch count is
chosen on these numbers; the precision against all gold links is recorded alongside, never read to choose.
Wall time per run and of stage 2. Writes ``benchmarks/results/psqe_epochs.json`` (kept across invocations, one
entry per dataset) and ``psqe_epochs.md``.
"""
import argparse
import logging
import time

import torch
from common import DEFAULT_DATA, RESULTS, earlier_entries, write_result

from psqe_pyg.datasets import load_dataset
from psqe_pyg.evaluation import gold_links
from psqe_pyg.metrics import seed_quality
from psqe_pyg.pair import SAME_AS, get_history
from psqe_pyg.pipeline import generate_seeds
from psqe_pyg.transforms import NameNgramFeatures

log = logging.getLogger('psqe_epochs')
STAGES = ('stage2_correction', 'stage3_correction')


def on_validation(seeds: torch.Tensor, val: torch.Tensor) -> dict:
    """Of ``seeds [2, S]``, those whose source has a link in ``val [2, L]``: ``{'seeds', 'correct'}``."""
    partner = torch.full((int(max(seeds[0].max(), val[0].max())) + 1,), -1, dtype=torch.long)
    partner[val[0]] = val[1]
    has = partner[seeds[0]] >= 0
    return {'seeds': int(has.sum()), 'correct': int((partner[seeds[0]] == seeds[1])[has].sum())}


def run(spec: str, root: str, epochs: list[int], seed: int) -> dict:
    data = NameNgramFeatures()(load_dataset(spec, root))  # as the CLI and benchmarks/psqe_time.py load it
    val, gold = gold_links(data, 'val'), data[SAME_AS].edge_index
    out = {}
    for count in epochs:
        start = time.perf_counter()
        stages, seconds = get_history(generate_seeds(data, 'psqe', seed=seed, progress=False, epochs=count))
        row = {'total_s': time.perf_counter() - start, 'stage2_s': seconds['stage2']}
        for stage in STAGES:
            s = stages[stage].edge_index
            row[stage] = {'seeds': s.size(1), 'precision_all_gold': seed_quality(s, gold)['precision'],
                          'validation': on_validation(s, val)}
        out[str(count)] = row
        v = row['stage3_correction']['validation']
        log.info('%s, %d epochs: %d of %d validation-source seeds right, %.0f s', spec, count, v['correct'],
                 v['seeds'], row['total_s'])
    return out


def table(results: dict) -> str:
    epochs = list(dict.fromkeys(e for r in results.values() for e in r))
    lines = ['| dataset | ' + ' | '.join(f'{e} epochs' for e in epochs) + ' |', '|---|' + '---|' * len(epochs)]
    for spec, r in results.items():
        cells = []
        for e in epochs:
            if e not in r:
                cells.append('')
                continue
            v = r[e]['stage3_correction']['validation']
            cells.append(f"{v['correct']} / {v['seeds']} ({r[e]['total_s']:.0f} s)")
        lines.append(f'| {spec} | ' + ' | '.join(cells) + ' |')
    return ('Right / all PSQE seeds whose source has a validation link (after stage 3), and the PSQE wall time.\n\n'
            + '\n'.join(lines) + '\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=['DBP15K/zh_en', 'DBP15K/ja_en', 'SRPRS/en_fr', 'synthetic'])
    parser.add_argument('--epochs', type=int, nargs='+', default=[300, 100, 50, 25, 10])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    results = earlier_entries('psqe_epochs', 'datasets')
    for spec in args.datasets:
        results[spec] = run(spec, args.root, args.epochs, args.seed)
        write_result('psqe_epochs', {'seed': args.seed, 'threads': torch.get_num_threads(), 'datasets': results})
        (RESULTS / 'psqe_epochs.md').write_text(table(results))


if __name__ == '__main__':
    main()
