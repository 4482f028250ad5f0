"""Throughput of the compiled kernels (issue 5) against the GEMM rate and what a user would run instead.

    python benchmarks/kernel_rates.py                                   # CUDA if present, else CPU, default sizes
    python benchmarks/kernel_rates.py --device cuda --sizes 1000000 --dims 300 --ks 10 --dtypes bfloat16
    python benchmarks/kernel_rates.py --device cpu --sizes 20000 --kmeans-sizes 100000

For every ``N = M`` in ``--sizes``, ``d`` in ``--dims``, ``k`` in ``--ks`` and input dtype, in one run:

* ``gemm``: the rate of a plain ``x_block @ y_block.T`` in that dtype on a block of the same inputs, and the
  time the full ``N x M x d`` product would need at that rate (the roofline of ``sim_topk``);
* ``sim_topk``: the compiled kernel (``backend='cpp'``), its TFLOP/s and its fraction of the GEMM rate;
* ``torch``: chunked ``mm`` + ``topk`` at every chunk size in ``--chunks`` whose score block fits
  ``--chunk-mib``; the best one is the baseline (``ratio_torch_over_kernel``);
* ``faiss``: exact ``IndexFlatIP`` search (CPU rows, float32 only);
* with ``k == 1`` also ``mutual_nn`` (the column-side best in the same pass) against chunked torch with a
  running column maximum.

Before a kernel's time is recorded its output is checked on ``--check-rows`` rows: the exact float32 scores
of the neighbours it returned must equal the exact top-k scores (ties may pick other columns). ``kmeans``
(``K`` in ``--kmeans-ks``, ``--kmeans-iters`` Lloyd steps, no early stop) runs the compiled kernel against the
pure-torch reference on the same device and ``faiss.Kmeans`` (CPU). ``greedy_match`` times the compiled
kernel on the device against the CPU kernel on the top-10 candidates of the ``N`` rows. Times are the best of
``--repeats`` after a warm-up. Writes ``benchmarks/results/kernels_<device>.json``.
"""
import argparse
import logging
import math
import time
from collections.abc import Callable

import torch
from common import write_result
from torch import Tensor

from psqe_pyg import ops

DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}
log = logging.getLogger('kernels')


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, object]:
    """The best wall time of ``repeats`` calls of ``fn`` after one warm-up call, and the last output."""
    out = fn()
    best = math.inf
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        out = fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best, out


def unit_rows(n: int, d: int, dtype: torch.dtype, device: torch.device, seed: int) -> Tensor:
    """``[n, d]`` seeded Gaussian rows scaled to unit norm (cosine similarities, as in alignment)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen)
    return torch.nn.functional.normalize(x, dim=1).to(device, dtype)


def gemm_rate(x: Tensor, y: Tensor, repeats: int) -> float:
    """FLOP/s of ``x_block @ y_block.T`` in the inputs' dtype, blocks of at most 8192 x 65536 rows (2048 x
    16384 on CPU)."""
    rows, cols = (8192, 65536) if x.is_cuda else (2048, 16384)
    a, b = x[:rows], y[:cols]
    seconds, _ = best_time(lambda: a @ b.T, x.device, repeats)
    return 2 * a.size(0) * b.size(0) * x.size(1) / seconds


def torch_topk(x: Tensor, y: Tensor, k: int, chunk: int, col_best: bool = False) -> tuple[Tensor, ...]:
    """What a user writes: ``mm`` + ``topk`` over row chunks (and a running column maximum)."""
    values, indices = [], []
    col_v = col_i = None
    for start in range(0, x.size(0), chunk):
        scores = x[start:start + chunk] @ y.T
        v, i = scores.topk(min(k, y.size(0)), dim=1)
        values.append(v)
        indices.append(i)
        if col_best:
            cv, ci = scores.max(dim=0)
            if col_v is None:
                col_v, col_i = cv, ci + start
            else:
                better = cv > col_v
                col_v, col_i = torch.where(better, cv, col_v), torch.where(better, ci + start, col_i)
    out = (torch.cat(values), torch.cat(indices))
    return out + (col_v, col_i) if col_best else out


def check_topk(x: Tensor, y: Tensor, indices: Tensor, rows: int) -> float:
    """Largest gap, over the first ``rows`` rows, between the exact float32 scores of the returned
    neighbours and the exact top-k scores (0 when the returned sets are a correct top-k up to ties)."""
    xs, yf = x[:rows].float(), y.float()
    exact = xs @ yf.T
    want = exact.topk(indices.size(1), dim=1).values
    got = exact.gather(1, indices[:rows].to(exact.device)).sort(dim=1, descending=True).values
    return float((want - got).abs().max())


def sim_topk_rows(x: Tensor, y: Tensor, k: int, args, rate: float) -> list[dict]:
    """The ``sim_topk`` row (and, with ``k == 1``, the ``mutual_nn`` row) of one configuration."""
    device, n, m, d = x.device, x.size(0), y.size(0), x.size(1)
    flops = 2 * n * m * d
    elem = torch.finfo(x.dtype).bits // 8
    chunks = [c for c in args.chunks if c * m * elem <= args.chunk_mib * 2**20] or [min(args.chunks)]
    rows = []
    for op, col_best in (('sim_topk', False), ('mutual_nn', True)):
        if col_best and k != 1:
            continue
        seconds, out = best_time(lambda: ops.sim_topk(x, y, k, col_best=col_best, backend='cpp'), device,
                                 args.repeats)
        gap = check_topk(x, y, out.indices, args.check_rows)
        tol = 1e-4 if x.dtype == torch.float32 else 1e-3
        if gap > tol:
            raise SystemExit(f'{op} kernel returned wrong neighbours for N={n} d={d} k={k} {x.dtype}: '
                             f'score gap {gap:.2e} > {tol:.0e}; no time is recorded')
        baseline = {c: best_time(lambda: torch_topk(x, y, k, c, col_best), device, 1)[0] for c in chunks}
        best_chunk = min(baseline, key=baseline.get)
        row = {'op': op, 'n': n, 'm': m, 'd': d, 'k': k, 'dtype': str(x.dtype).removeprefix('torch.'),
               'device': device.type, 'kernel_s': seconds, 'kernel_tflops': flops / seconds / 1e12,
               'gemm_tflops': rate / 1e12, 'gemm_s_at_rate': flops / rate,
               'fraction_of_gemm_rate': flops / rate / seconds, 'check_max_score_gap': gap,
               'torch_s_by_chunk': baseline, 'torch_best_chunk': best_chunk,
               'ratio_torch_over_kernel': baseline[best_chunk] / seconds}
        if device.type == 'cpu' and x.dtype == torch.float32 and not col_best and not args.no_faiss:
            faiss_s, _ = best_time(lambda: ops.sim_topk(x, y, k, backend='faiss'), device, args.repeats)
            row.update(faiss_s=faiss_s, ratio_faiss_over_kernel=faiss_s / seconds)
        log.info('%s N=%d d=%d k=%d %s: %.3f s (%.3g TFLOP/s, %.0f%% of GEMM), torch best %.3f s (chunk %d)',
                 op, n, d, k, row['dtype'], seconds, row['kernel_tflops'], 100 * row['fraction_of_gemm_rate'],
                 baseline[best_chunk], best_chunk)
        rows.append(row)
    return rows


def kmeans_row(n: int, k: int, args, device: torch.device) -> dict:
    """The compiled k-means against the pure-torch reference (same device) and faiss (CPU)."""
    x = unit_rows(n, args.kmeans_dim, torch.float32, device, args.seed)
    row = {'op': 'kmeans', 'n': n, 'd': args.kmeans_dim, 'k': k, 'iters': args.kmeans_iters,
           'device': device.type}
    backends = ['cpp', 'torch'] + ([] if args.no_faiss else ['faiss'])
    for backend in backends:
        data = x.cpu() if backend == 'faiss' else x
        seconds, out = best_time(lambda: ops.kmeans(data, k, args.kmeans_iters, args.seed, tol=-1.0,
                                                    backend=backend), data.device, args.repeats)
        row[f'{backend}_s'] = seconds
        row[f'{backend}_inertia'] = out.inertia
    row['ratio_torch_over_kernel'] = row['torch_s'] / row['cpp_s']
    if 'faiss_s' in row:
        row['ratio_faiss_over_kernel'] = row['faiss_s'] / row['cpp_s']
    log.info('kmeans N=%d K=%d: %.3f s, torch %.3f s', n, k, row['cpp_s'], row['torch_s'])
    return row


def greedy_row(x: Tensor, y: Tensor, args) -> dict:
    """Greedy one-to-one matching of the top-10 candidates: the kernel on the device against the CPU kernel."""
    top = ops.sim_topk(x, y, 10, backend='cpp')
    row_ids = torch.arange(x.size(0), device=x.device).repeat_interleave(top.indices.size(1))
    cand = (row_ids, top.indices.reshape(-1), top.values.reshape(-1).float())
    seconds, picked = best_time(lambda: ops.greedy_match(*cand, backend='cpp'), x.device, args.repeats)
    cpu = tuple(t.cpu() for t in cand)
    cpu_s, cpu_picked = best_time(lambda: ops.greedy_match(*cpu, backend='cpp'), torch.device('cpu'),
                                  args.repeats)
    if not torch.equal(picked.cpu(), cpu_picked):
        raise SystemExit(f'greedy_match on {x.device} differs from the CPU kernel for N={x.size(0)}')
    return {'op': 'greedy_match', 'n': x.size(0), 'candidates': cand[0].numel(), 'device': x.device.type,
            'kernel_s': seconds, 'cpu_kernel_s': cpu_s, 'ratio_cpu_over_kernel': cpu_s / seconds,
            'accepted': picked.numel()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='auto', help="'auto' (CUDA if present), 'cpu' or 'cuda'")
    parser.add_argument('--sizes', type=int, nargs='+', help='N = M (default 20k 100k 1M on CUDA, 20k on CPU)')
    parser.add_argument('--dims', type=int, nargs='+', default=[300, 384])
    parser.add_argument('--ks', type=int, nargs='+', default=[1, 10])
    parser.add_argument('--dtypes', nargs='+', choices=list(DTYPES),
                        help='input dtypes (default bfloat16 float32 on CUDA, float32 on CPU)')
    parser.add_argument('--chunks', type=int, nargs='+', default=[1024, 4096, 16384],
                        help='row chunks tried for the torch baseline')
    parser.add_argument('--chunk-mib', type=int, default=8192, help='largest torch score block (MiB)')
    parser.add_argument('--kmeans-sizes', type=int, nargs='*', help='k-means rows (default 100k 1M on CUDA, '
                        '100k on CPU; none: skip)')
    parser.add_argument('--kmeans-ks', type=int, nargs='+', default=[5, 100])
    parser.add_argument('--kmeans-dim', type=int, default=384)
    parser.add_argument('--kmeans-iters', type=int, default=20)
    parser.add_argument('--no-greedy', action='store_true', help='skip greedy_match')
    parser.add_argument('--no-faiss', action='store_true', help='skip the faiss baselines')
    parser.add_argument('--check-rows', type=int, default=512)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--name', help='result file name (default kernels_<device>)')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    if not ops.WITH_EXTENSION:
        raise SystemExit('the compiled extension is not loaded (pip install --no-build-isolation .): '
                         'nothing to benchmark')
    cuda = torch.cuda.is_available() if args.device == 'auto' else args.device == 'cuda'
    if cuda and not ops.WITH_CUDA:
        raise SystemExit('the extension was built without CUDA kernels; rebuild it with a CUDA torch')
    device = torch.device('cuda' if cuda else 'cpu')
    sizes = args.sizes or ([20_000, 100_000, 1_000_000] if cuda else [20_000])
    dtypes = args.dtypes or (['bfloat16', 'float32'] if cuda else ['float32'])
    kmeans_sizes = args.kmeans_sizes if args.kmeans_sizes is not None else (
        [100_000, 1_000_000] if cuda else [100_000])
    results, gemm = [], []
    for dtype in dtypes:
        for n in sizes:
            for d in args.dims:
                x = unit_rows(n, d, DTYPES[dtype], device, args.seed)
                y = unit_rows(n, d, DTYPES[dtype], device, args.seed + 1)
                rate = gemm_rate(x, y, args.repeats)
                gemm.append({'n': n, 'd': d, 'dtype': dtype, 'tflops': rate / 1e12})
                for k in args.ks:
                    results.extend(sim_topk_rows(x, y, k, args, rate))
                if cuda and not args.no_greedy and dtype == dtypes[0] and d == args.dims[0]:
                    results.append(greedy_row(x, y, args))
                del x, y
    for n in kmeans_sizes:
        for k in args.kmeans_ks:
            results.append(kmeans_row(n, k, args, device))
    payload = {'benchmark': 'kernels', 'device': device.type,
               'device_name': torch.cuda.get_device_name(device) if cuda else None,
               'parameters': {k: v for k, v in vars(args).items() if k != 'name'},
               'gemm': gemm, 'rows': results}
    path = write_result(args.name or f'kernels_{device.type}', payload)
    log.info('wrote %s', path)


if __name__ == '__main__':
    main()
