"""Time and peak memory of the compiled tiled ``sim_topk`` against chunked torch ``mm`` + ``topk`` (CPU).

Each method runs in a fresh subprocess, so its peak resident memory is its own: the worker builds the
inputs (seeded), records its resident set, resets the kernel's peak-RSS counter where Linux allows it
(``/proc/self/clear_refs``), runs the method once for warm-up on a small slice and once measured, and
reports the time and the peak RSS above the post-input baseline (``resource.getrusage().ru_maxrss``,
which the reset makes attributable to the run; without the reset the number is still an upper bound).
The parent checks that both methods return the same neighbours and writes
``benchmarks/results/sim_topk_memory.json`` with the ratios compiled / torch.

    python benchmarks/sim_topk_memory.py                 # 20,000 x 20,000, d=384, k=10
    python benchmarks/sim_topk_memory.py --n 5000 --m 5000
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _reset_peak() -> bool:
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def _inputs(n: int, m: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = torch.randn(m, d, generator=g)
    x.div_(x.norm(dim=1, keepdim=True))  # unit rows: cosine similarities, as in alignment
    y.div_(y.norm(dim=1, keepdim=True))
    return x, y


def _torch_chunked(x, y, k, chunk):
    vals, idx = [], []
    for i in range(0, x.size(0), chunk):
        v, j = torch.topk(x[i:i + chunk] @ y.t(), k, dim=1)
        vals.append(v)
        idx.append(j)
    return torch.cat(vals), torch.cat(idx)


def worker(args) -> None:
    from psqe_pyg import ops
    x, y = _inputs(args.n, args.m, args.d, args.seed)

    def run(xx, yy):
        if args.method == 'compiled':
            out = ops.sim_topk(xx, yy, args.k, backend='cpp', tile_rows=args.tile_rows, tile_cols=args.tile_cols)
            return out.values, out.indices
        return _torch_chunked(xx, yy, args.k, args.chunk)

    run(x[:256], y[:4096])  # warm-up: thread pools, allocator, BLAS
    baseline = _rss_bytes()
    reset = _reset_peak()
    peak_before = _maxrss_bytes()
    load_before = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    values, indices = run(x, y)
    seconds = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak = _maxrss_bytes()
    torch.save({'values': values, 'indices': indices}, args.out + '.pt')
    Path(args.out).write_text(json.dumps({
        'method': args.method, 'seconds': seconds, 'cpu_seconds': cpu_seconds, 'baseline_rss_bytes': baseline,
        'peak_rss_bytes': peak, 'peak_rss_before_run_bytes': peak_before,
        'peak_rss_above_baseline_bytes': max(peak - baseline, 0), 'peak_reset': reset,
        'loadavg_1min_before': load_before, 'loadavg_1min_after': os.getloadavg()[0],
        'threads': torch.get_num_threads(),
    }))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--n', type=int, default=20_000)
    p.add_argument('--m', type=int, default=20_000)
    p.add_argument('--d', type=int, default=384)
    p.add_argument('--k', type=int, default=10)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--chunk', type=int, default=1024, help='rows per torch mm+topk chunk')
    p.add_argument('--tile-rows', type=int, default=0, help='compiled tile rows (0: kernel default)')
    p.add_argument('--tile-cols', type=int, default=0, help='compiled tile cols (0: kernel default)')
    p.add_argument('--repeats', type=int, default=1, help='fresh processes per method (best time kept)')
    p.add_argument('--no-write', action='store_true', help='print only')
    p.add_argument('--method', choices=['compiled', 'torch'], help=argparse.SUPPRESS)
    p.add_argument('--out', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.method:
        worker(args)
        return

    from psqe_pyg import ops
    if not ops.WITH_EXTENSION:
        raise SystemExit('the compiled extension is not built: nothing to compare')
    runs: dict[str, list[dict]] = {'compiled': [], 'torch': []}
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for method in ('compiled', 'torch'):
                out = os.path.join(tmp, f'{method}_{rep}.json')
                cmd = [sys.executable, __file__, '--method', method, '--out', out, '--n', str(args.n),
                       '--m', str(args.m), '--d', str(args.d), '--k', str(args.k), '--seed', str(args.seed),
                       '--chunk', str(args.chunk), '--tile-rows', str(args.tile_rows),
                       '--tile-cols', str(args.tile_cols)]
                subprocess.run(cmd, check=True)
                rec = json.loads(Path(out).read_text())
                runs[method].append(rec)
                outputs[method] = torch.load(out + '.pt')
                print(f"{method:9s} run {rep}: {rec['seconds']:.2f} s ({rec['cpu_seconds']:.2f} s CPU), "
                      f"peak RSS above inputs "
                      f"{rec['peak_rss_above_baseline_bytes'] / 2**20:.1f} MiB "
                      f"(load {rec['loadavg_1min_before']:.1f})", flush=True)

    a, b = outputs['compiled'], outputs['torch']
    same_idx = (a['indices'] == b['indices']).double().mean().item()
    max_diff = (a['values'] - b['values']).abs().max().item()
    # Index disagreements are only acceptable between (numerically) tied neighbours.
    s_b = b['values']
    mism = a['indices'] != b['indices']
    tied_ok = bool(((a['values'] - s_b).abs()[mism] <= 1e-5).all())
    match = max_diff <= 1e-5 and tied_ok

    best = {m: min(r['seconds'] for r in runs[m]) for m in runs}
    cpu = {m: min(r['cpu_seconds'] for r in runs[m]) for m in runs}
    mem = {m: max(r['peak_rss_above_baseline_bytes'] for r in runs[m]) for m in runs}
    payload = {
        'benchmark': 'sim_topk_memory',
        'parameters': {'n': args.n, 'm': args.m, 'd': args.d, 'k': args.k, 'dtype': 'float32', 'seed': args.seed,
                       'torch_chunk_rows': args.chunk, 'compiled_tile_rows': args.tile_rows or 'default',
                       'compiled_tile_cols': args.tile_cols or 'default', 'repeats': args.repeats,
                       'device': 'cpu'},
        'runs': runs,
        'summary': {
            'compiled_seconds': best['compiled'], 'torch_seconds': best['torch'],
            'compiled_peak_rss_above_inputs_mib': mem['compiled'] / 2**20,
            'torch_peak_rss_above_inputs_mib': mem['torch'] / 2**20,
            'compiled_cpu_seconds': cpu['compiled'], 'torch_cpu_seconds': cpu['torch'],
            'time_ratio_compiled_over_torch': best['compiled'] / best['torch'],
            'cpu_time_ratio_compiled_over_torch': cpu['compiled'] / cpu['torch'],
            'memory_ratio_compiled_over_torch': mem['compiled'] / max(mem['torch'], 1),
            'dense_score_matrix_mib': args.n * args.m * 4 / 2**20,
            'gflops_compiled': 2 * args.n * args.m * args.d / best['compiled'] / 1e9,
            'gflops_torch': 2 * args.n * args.m * args.d / best['torch'] / 1e9,
        },
        'check': {'results_match': match, 'index_agreement': same_idx, 'max_abs_value_diff': max_diff,
                  'index_mismatches_are_ties': tied_ok},
        'notes': 'Peak RSS is measured in a fresh process per method, above the RSS after the inputs are '
                 'allocated and a warm-up run; the kernel peak counter is reset just before the measured run '
                 '(peak_reset). The machine may be shared: loadavg is recorded with every run, and CPU '
                 'seconds (user + system) are reported next to wall time because they are less sensitive to other load.',
    }
    print(json.dumps(payload['summary'], indent=2))
    print(json.dumps(payload['check'], indent=2))
    if not args.no_write:
        from common import write_result
        print('wrote', write_result('sim_topk_memory', payload))
    if not match:
        raise SystemExit('compiled and torch results differ')


if __name__ == '__main__':
    main()
