"""How PSQE and the aligner grow with the pair's size (issue 13, part 3).

    python benchmarks/scale.py --sizes 10000 30000 100000

Each size runs in a fresh process (so its peak memory is its own) on the built-in synthetic pair with
``num_entities = N`` (plus the generator's 10% entities a side without a counterpart), default PSQE and
aligner settings (``--budget`` and ``--epochs`` change PSQE's seed budget and stage 2's epochs; stage 2's
training time is proportional to its epochs). Per phase, the wall time and the peak resident
set (Linux: ``VmHWM`` reset before every phase through ``/proc/self/clear_refs``; elsewhere the process's
peak so far):

* ``generate``: the synthetic pair; ``stage1`` ... ``stage3_correction``: PSQE's steps;
* ``aligner_train``: the aligner's training steps; ``aligner_refine``: its iterative-learning rounds (the
  mutual-nearest-neighbour join over all free entities); ``evaluation``: the customary protocol
  (:data:`EVALUATION`): the test links ranked against the links' own ends, cosine and CSLS, both directions,
  and greedy one-to-one decoding. :func:`~psqe_pyg.evaluation.evaluate_alignment`'s default adds the
  ``'all'`` candidate set (joins of ``N_src x N_tgt``, not ``L x L``), Sinkhorn and the exact assignment;
  measured here they would dominate the run without telling how the aligner scales.

Next to them, this machine's float32 GEMM rate measured in the same process, and the FLOP floor of one
``N_src x N_tgt x d`` similarity join at that rate (``d`` = stage 2's fused width and the aligner's). The
summary fits each phase's exponent (slope of log time against log N) over the sizes run. Results per size
go to ``benchmarks/results/scale/<N>.json`` (a rerun skips sizes already there unless ``--force``); the
summary to ``benchmarks/results/scale.json``, ``scale.md`` and the log-log plot ``scale.png``.
"""
import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, environment, write_result

log = logging.getLogger('scale')
PER_SIZE = RESULTS / 'scale'
PSQE_PHASES = ('stage1', 'stage2', 'stage2_correction', 'stage3', 'stage3_correction')
PHASES = ('generate', *PSQE_PHASES, 'aligner_train', 'aligner_refine', 'evaluation')
#: What the targets of issue 13 ask of 100k x 100k (PSQE + aligner, this machine).
TARGET = {'entities': 100_000, 'wall_s': 20 * 60, 'peak_rss_gb': 8.0}
#: The evaluation measured: ``evaluate_alignment``'s options.
EVALUATION = {'csls_k': 10, 'all_candidates': False, 'one_to_one': ('greedy',)}


class PeakMemory:
    """The process's peak resident set in bytes since :meth:`reset` (since start where it cannot reset)."""

    def __init__(self) -> None:
        self.resettable = Path('/proc/self/clear_refs').exists()

    def reset(self) -> None:
        if self.resettable:
            try:
                Path('/proc/self/clear_refs').write_text('5')  # resets VmHWM to the current RSS
            except OSError:
                self.resettable = False

    def peak(self) -> int:
        try:
            for line in Path('/proc/self/status').read_text().splitlines():
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        scale = 1 if sys.platform == 'darwin' else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def gemm_gflops(size: int = 2048, repeats: int = 5) -> float:
    """This machine's float32 matrix-product rate (GFLOP/s): the best of ``repeats`` ``size^3`` products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size ** 3 / best / 1e9


def run_one(num_entities: int, budget: int | None, epochs: int | None, seed: int) -> dict:
    """Every phase of PSQE and the aligner on a synthetic pair of ``num_entities``: its timings and peaks."""
    from psqe_pyg.evaluation import evaluate_alignment
    from psqe_pyg.nn import AlignerConfig
    from psqe_pyg.pair import generate_synthetic_pair, set_history
    from psqe_pyg.pair.seeds import get_seeds
    from psqe_pyg.pipeline import train_on_seeds
    from psqe_pyg.metrics import seed_quality
    from psqe_pyg.transforms import PSQE

    memory = PeakMemory()
    phases: dict[str, dict] = {}

    def record(name: str, start: float) -> None:
        phases[name] = {'wall_s': time.perf_counter() - start, 'peak_rss_gb': memory.peak() / 2 ** 30}
        log.info('%d entities, %s: %.1f s, peak %.2f GB', num_entities, name, phases[name]['wall_s'],
                 phases[name]['peak_rss_gb'])

    rate = gemm_gflops()
    memory.reset()
    start = time.perf_counter()
    data = generate_synthetic_pair(num_entities, seed=seed)
    record('generate', start)

    options = {key: value for key, value in (('budget', budget), ('epochs', epochs)) if value is not None}
    psqe = PSQE(**options, seed=seed, progress=False)
    stages, seconds = {}, {}
    for name, step in psqe.steps:
        memory.reset()
        start = time.perf_counter()
        data = step(data)
        record(name, start)
        stages[name], seconds[name] = get_seeds(data), phases[name]['wall_s']
    data = set_history(data, stages, seconds)
    gold = data['src', 'same_as', 'tgt'].edge_index
    seeds = get_seeds(data)

    memory.reset()
    start = time.perf_counter()
    # the trained aligner alone: the late fusion's propagated features would widen the embeddings that the
    # evaluation joins from 288 to ~3,000 columns (README "Scale: time")
    src, tgt, training = train_on_seeds(data, AlignerConfig(propagated=0.0), seed=seed, progress=False)
    total, peak = time.perf_counter() - start, memory.peak() / 2 ** 30
    phases['aligner_train'] = {'wall_s': total - training['refine_s'], 'peak_rss_gb': peak}
    phases['aligner_refine'] = {'wall_s': training['refine_s'], 'peak_rss_gb': peak}  # one peak for both
    memory.reset()
    start = time.perf_counter()
    result = evaluate_alignment(data, src, tgt, **EVALUATION)
    record('evaluation', start)

    n_src, n_tgt = data['src'].num_nodes, data['tgt'].num_nodes
    widths = {'stage2_match': psqe.steps[1][1].hidden * 3, 'aligner_mutual_nn': src.size(1)}
    return {
        'entities': num_entities, 'num_src': n_src, 'num_tgt': n_tgt,
        'num_edges': sum(int(data[et].edge_index.size(1)) for et in data.edge_types if et[0] == et[2]),
        'budget': psqe.steps[0][1].budget, 'stage2_epochs': psqe.steps[1][1].epochs,
        'threads': torch.get_num_threads(), 'evaluation': EVALUATION,
        'gemm_gflops': rate,
        'join_floor_s': {name: 2 * n_src * n_tgt * d / (rate * 1e9) for name, d in widths.items()},
        'join_width': widths,
        'phases': phases,
        'psqe_s': sum(phases[p]['wall_s'] for p in PSQE_PHASES),
        'aligner_s': sum(phases[p]['wall_s'] for p in ('aligner_train', 'aligner_refine', 'evaluation')),
        'peak_rss_gb': max(p['peak_rss_gb'] for p in phases.values()),
        'seeds': len(seeds), 'seed_precision': seed_quality(seeds.edge_index, gold)['precision'],
        'refine_rounds': len(training['rounds']),
        'hits@1': result['cosine']['mean']['hits@1'], 'one_to_one_hits@1': result['one_to_one_hits@1'],
    }


def exponents(runs: list[dict]) -> dict[str, float | None]:
    """Per phase: the slope of log(wall time) against log(entities), ``None`` below two sizes."""
    if len(runs) < 2:
        return {name: None for name in PHASES}
    n = np.log([r['entities'] for r in runs])
    return {name: float(np.polyfit(n, np.log([max(r['phases'][name]['wall_s'], 1e-3) for r in runs]), 1)[0])
            for name in PHASES}


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = [r['entities'] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 5))
    for name in PHASES:
        ax.plot(n, [max(r['phases'][name]['wall_s'], 1e-3) for r in runs], marker='o', label=name)
    ax.plot(n, [r['join_floor_s']['stage2_match'] for r in runs], 'k--', label='N·M·d floor (d = stage 2 width)')
    ax.set(xscale='log', yscale='log', xlabel='entities per side (shared)', ylabel='wall time (s)',
           title=f"psqe_pyg on {runs[0]['threads']} CPU threads, synthetic pairs")
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(runs: list[dict], slopes: dict) -> str:
    """The README's table: seconds per phase and size, the fitted exponent, the peak memory."""
    head = '| phase | ' + ' | '.join(f"{r['entities']:,}" for r in runs) + ' | exponent |'
    lines = [head, '|' + '---|' * (len(runs) + 2)]
    for name in PHASES:
        slope = '' if slopes[name] is None else f'{slopes[name]:.2f}'
        lines.append(f'| {name} | ' + ' | '.join(f"{r['phases'][name]['wall_s']:.1f}" for r in runs)
                     + f' | {slope} |')
    lines.append('| **PSQE + aligner (s)** | ' + ' | '.join(f"{r['psqe_s'] + r['aligner_s']:.0f}" for r in runs)
                 + ' | |')
    lines.append('| peak RSS (GB) | ' + ' | '.join(f"{r['peak_rss_gb']:.2f}" for r in runs) + ' | |')
    lines.append('| join floor, stage 2 (s) | '
                 + ' | '.join(f"{r['join_floor_s']['stage2_match']:.1f}" for r in runs) + ' | |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[10_000, 30_000, 100_000])
    parser.add_argument('--budget', type=int, default=None, help="PSQE's seed budget (default: PSQE's)")
    parser.add_argument('--epochs', type=int, default=None, help="stage 2's epochs (default: PSQE's)")
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: all cores)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='rerun sizes already measured')
    parser.add_argument('--one', type=int, default=None, help=argparse.SUPPRESS)  # the per-size child
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s')
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.one is not None:
        PER_SIZE.mkdir(parents=True, exist_ok=True)
        out = {'environment': environment(), **run_one(args.one, args.budget, args.epochs, args.seed)}
        (PER_SIZE / f'{args.one}.json').write_text(json.dumps(out, indent=2) + '\n')
        return

    for size in args.sizes:
        if (PER_SIZE / f'{size}.json').exists() and not args.force:
            log.info('%d entities: kept from %s', size, PER_SIZE / f'{size}.json')
            continue
        cmd = [sys.executable, __file__, '--one', str(size), '--seed', str(args.seed)]
        cmd += [] if args.budget is None else ['--budget', str(args.budget)]
        cmd += [] if args.epochs is None else ['--epochs', str(args.epochs)]
        cmd += [] if args.threads is None else ['--threads', str(args.threads)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env={**os.environ, 'PYTHONPATH': str(Path(__file__).parent)})
        log.info('%d entities: %.0f s in all', size, time.perf_counter() - start)

    runs = sorted((json.loads(p.read_text()) for p in PER_SIZE.glob('*.json')), key=lambda r: r['entities'])
    slopes = exponents(runs)
    largest = max(runs, key=lambda r: r['entities'])
    targets = None
    if largest['entities'] >= TARGET['entities']:
        targets = {'entities': largest['entities'], 'wall_s': largest['psqe_s'] + largest['aligner_s'],
                   'peak_rss_gb': largest['peak_rss_gb'],
                   'wall_met': largest['psqe_s'] + largest['aligner_s'] <= TARGET['wall_s'],
                   'memory_met': largest['peak_rss_gb'] <= TARGET['peak_rss_gb']}
    write_result('scale', {'target': TARGET, 'exponents': slopes, 'target_check': targets,
                           'runs': [{k: v for k, v in r.items() if k != 'environment'} for r in runs],
                           'run_environments': {str(r['entities']): r['environment'] for r in runs}})
    (RESULTS / 'scale.md').write_text(table(runs, slopes))
    plot(runs, RESULTS / 'scale.png')
    print(table(runs, slopes))


if __name__ == '__main__':
    main()
