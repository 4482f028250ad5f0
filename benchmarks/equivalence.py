"""Does the generic path lose anything? The registered loaders against the same sets in the OpenEA layout.

    python benchmarks/equivalence.py [DBP15K/zh_en SRPRS/en_fr ...]

Each shared set is converted by ``tests/convert.py`` (URIs as entities, in the order they first appear, names
files from the translated-name JSON, SRPRS's split as ``721_5fold/1``) and both are aligned by the command
a user runs, ``psqe-pyg align --dataset <set or folder> --seeds pivot`` (the default names, the default aligner).
Issue 12 asks for the same test Hits@1 within 0.2 points. Every run's ``--json`` output is kept in
``benchmarks/results/equivalence/<set>.<registered|converted>.json`` and a finished run is not repeated, so
the study resumes where it stopped (each run takes 5-30 minutes on 2 cores, with the load). Writes
``equivalence.md``, the table.
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from common import DEFAULT_DATA, REPO, RESULTS

sys.path.insert(0, str(REPO / 'tests'))
from convert import SETS, convert  # noqa: E402  (the test helper is the converter)

log = logging.getLogger('equivalence')
OUT = RESULTS / 'equivalence'
KINDS = ('registered', 'converted')


def align(dataset: str, root: str, path: Path) -> None:
    """``psqe-pyg align`` on ``dataset``, its JSON written (atomically) to ``path``."""
    tmp = path.with_suffix('.tmp')
    cmd = [sys.executable, '-m', 'psqe_pyg', 'align', '--dataset', dataset, '--root', root, '--seeds', 'pivot',
           '--json', str(tmp), '--quiet']
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    os.replace(tmp, path)
    log.info('%s: %.0f s', path.name, time.perf_counter() - start)


def row(spec: str) -> str | None:
    runs = {kind: OUT / f"{spec.replace('/', '_')}.{kind}.json" for kind in KINDS}
    if not all(p.is_file() for p in runs.values()):
        return None
    r, c = (json.loads(runs[kind].read_text()) for kind in KINDS)
    hits = [100 * x['cosine']['mean']['hits@1'] for x in (r, c)]
    greedy = [100 * x['one_to_one_hits@1'] for x in (r, c)]
    precision = [100 * x['training']['seed_precision'] for x in (r, c)]
    return (f'| {spec} | {hits[0]:.2f} | {hits[1]:.2f} | {hits[1] - hits[0]:+.2f} | {greedy[0]:.2f} | '
            f'{greedy[1]:.2f} | {precision[0]:.1f} / {precision[1]:.1f} |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('sets', nargs='*', default=list(SETS), help=f'of {list(SETS)}')
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--work', default='/tmp/psqe_pyg-equivalence', help='where the converted sets go')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    OUT.mkdir(parents=True, exist_ok=True)
    for spec in args.sets:
        tag = spec.replace('/', '_')
        for kind in KINDS:
            path = OUT / f'{tag}.{kind}.json'
            if path.is_file():
                continue
            folder = Path(args.work) / tag
            if kind == 'converted' and not folder.is_dir():
                convert(args.root, spec, folder)
            align(spec if kind == 'registered' else str(folder), args.root, path)
    lines = ['| set | Hits@1 registered | Hits@1 converted | difference | greedy 1-1 registered | '
             'greedy 1-1 converted | pivot seed precision (reg. / conv.) |', '|---|---|---|---|---|---|---|']
    lines += [line for line in map(row, SETS) if line is not None]
    (RESULTS / 'equivalence.md').write_text('\n'.join(lines) + '\n')
    log.info('wrote %s', RESULTS / 'equivalence.md')


if __name__ == '__main__':
    main()
