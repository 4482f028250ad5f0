"""Wall time of the default PSQE per stage on one dataset, and whether the seeds equal an earlier run's.

    python benchmarks/psqe_time.py [--dataset DBP15K/zh_en] [--threads 2] [--label NAME] \
        [--compare LABEL ...]

Each run is kept under its label (default: the git revision of the ``psqe_pyg`` that was imported) in
benchmarks/results/psqe_time.json: per-stage seconds, seed precision, the load average before the run. The
seed pairs of every stage go to ``--seeds-dir/<label>.pt``; ``--compare`` counts the pairs that differ
from those labels' runs, stage by stage.

A baseline in the same session: ``--code DIR`` imports the ``psqe_pyg`` under ``DIR`` instead of the
installed one, e.g. ``git archive <rev> psqe_pyg | tar -x -C /tmp/base`` plus the built ``_C.so`` copied
into ``/tmp/base/psqe_pyg/``.
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

if '--code' in sys.argv:  # before psqe_pyg is imported: bypass the editable install's import redirect
    sys.meta_path = [f for f in sys.meta_path if 'Redirecting' not in type(f).__name__]
    sys.path.insert(0, sys.argv[sys.argv.index('--code') + 1])

import torch  # noqa: E402
from common import DEFAULT_DATA, earlier_entries, write_result  # noqa: E402

import psqe_pyg  # noqa: E402
from psqe_pyg import metrics, pipeline  # noqa: E402
from psqe_pyg.datasets import load_dataset  # noqa: E402
from psqe_pyg.pair import SAME_AS, get_history  # noqa: E402
from psqe_pyg.transforms import NameNgramFeatures  # noqa: E402


def code_revision() -> str:
    """The git revision of the imported ``psqe_pyg`` (``+dirty`` with uncommitted changes to it)."""
    where = Path(psqe_pyg.__file__).resolve().parent
    try:
        rev = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=where, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--', '.'], cwd=where, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return rev + ('+dirty' if dirty else '')


def differing_pairs(a: torch.Tensor, b: torch.Tensor) -> int:
    """Pairs of ``a [2, S]`` not in ``b [2, S']`` plus those of ``b`` not in ``a``."""
    sa, sb = set(map(tuple, a.t().tolist())), set(map(tuple, b.t().tolist()))
    return len(sa ^ sb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--dataset', default='DBP15K/zh_en')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--label', default=None, help='the run\'s name (default: the code revision)')
    parser.add_argument('--seeds-dir', default='/tmp/psqe_time')
    parser.add_argument('--compare', nargs='*', default=[], help='labels of earlier runs to compare seeds with')
    parser.add_argument('--out', default='psqe_time')
    parser.add_argument('--code', default=None, help='import psqe_pyg from this folder (a baseline)')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    torch.set_num_threads(args.threads)
    code = code_revision()  # now: the run may outlast edits to the checkout
    label = args.label or code

    load_avg = os.getloadavg()
    cpu_start = time.process_time()
    start = time.perf_counter()
    data = NameNgramFeatures()(load_dataset(args.dataset, args.root))  # as benchmarks/seeds.py
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    data = pipeline.generate_seeds(data, 'psqe', seed=args.seed, progress=False)
    total_s = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    stages, seconds = get_history(data)

    gold = data[SAME_AS].edge_index if SAME_AS in data.edge_types else None
    seeds = {name: s.edge_index.cpu() for name, s in stages.items()}
    Path(args.seeds_dir).mkdir(parents=True, exist_ok=True)
    torch.save(seeds, Path(args.seeds_dir) / f'{label}.pt')
    run = {
        'code': code, 'psqe_pyg_path': str(Path(psqe_pyg.__file__).parent), 'threads': args.threads,
        'load_avg_before': load_avg, 'load_avg_after': os.getloadavg(), 'load_s': load_s, 'total_s': total_s,
        'process_cpu_s_with_load': cpu_s,
        'stages': {name: {'time_s': seconds[name], 'seeds': len(stages[name]),
                          **({'precision': metrics.seed_quality(s, gold)['precision']} if gold is not None else {})}
                   for name, s in seeds.items()},
        'differ_from': {},
    }
    for other in args.compare:
        theirs = torch.load(Path(args.seeds_dir) / f'{other}.pt')
        run['differ_from'][other] = {name: {'differing': differing_pairs(s, theirs[name]), 'seeds': s.size(1),
                                            'their_seeds': theirs[name].size(1)}
                                     for name, s in seeds.items() if name in theirs}
    logging.info('%s: %s', label, json.dumps(run, indent=1))

    runs = earlier_entries(args.out, 'runs')
    key = f'{args.dataset}@{label}'
    runs[key] = run
    write_result(args.out, {'seed': args.seed, 'runs': runs})


if __name__ == '__main__':
    main()
