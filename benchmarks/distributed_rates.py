"""The sharded similarity join on this machine's CPU with gloo: its rate against one process on the same cores,
and what the all-gather of the top-k lists costs.

In one run: (1) one process with ``P`` threads joins ``x [N, d]`` against ``y [M, d]`` (``psqe_pyg.ops.sim_topk``,
k neighbours, the compiled kernel when built) — the baseline; the same with 1 thread; and the plain GEMM rate of
the join's tile shape (``torch.mm``, the FLOP floor). (2) ``P`` gloo processes of 1 thread each (the same cores)
run the sharded join (``psqe_pyg.ops.sharded_join``): the whole call, this rank's local part alone, and the merge
(all-gather of ``P`` lists of k per row plus the sort); their result is checked against (1). (3) ``all_gather``
of float32 buffers of several sizes: latency and per-rank bandwidth. Writes
``benchmarks/results/distributed_rates.json`` (machine, versions, load average).

    python benchmarks/distributed_rates.py                  # 20,000 x 20,000, d=300, k=10, 2 ranks
    python benchmarks/distributed_rates.py --n 5000 --m 5000 --reps 2
"""
import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import write_result  # noqa: E402

GATHER_BYTES = [2 ** 16, 2 ** 20, 2 ** 23, 2 ** 26]  # per rank


def _inputs(n: int, m: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)
    y = torch.nn.functional.normalize(torch.randn(m, d, generator=gen), dim=1)
    return x, y


def _best(fn, reps: int, sync=lambda: None) -> float:
    """Best wall time of ``reps`` calls (after one warm-up), ``sync`` before each start and after each end."""
    fn()
    times = []
    for _ in range(reps):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times)


def _one_process(args) -> dict:
    from psqe_pyg import ops
    from psqe_pyg.ops import sharded_join as join
    x, y = _inputs(args.n, args.m, args.d)
    tile = join.column_align('cpp' if ops.WITH_EXTENSION else 'torch', x.device, 0)
    out = {}
    for threads in sorted({args.world, 1}, reverse=True):
        torch.set_num_threads(threads)
        out[f'sim_topk_s_{threads}_threads'] = _best(lambda: ops.sim_topk(x, y, args.k), args.reps)
        # the FLOP floor: torch.mm on the kernel's tile shape (256 rows x one column tile), 64 tiles
        xb, yt = x[:256], y[:tile].t().contiguous()
        gemm = _best(lambda: [torch.mm(xb, yt) for _ in range(64)], args.reps)
        out[f'gemm_gflops_{threads}_threads'] = 2 * 64 * xb.size(0) * yt.size(1) * args.d / gemm / 1e9
    torch.set_num_threads(args.world)
    top = ops.sim_topk(x, y, args.k)
    return out, top


def _worker(rank: int, args, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=args.world)
    from psqe_pyg import ops
    from psqe_pyg.distributed import comm
    from psqe_pyg.ops import sharded_join as join
    x, y = _inputs(args.n, args.m, args.d)
    barrier = dist.barrier
    row = {'sharded_sim_topk_s': _best(lambda: ops.sim_topk(x, y, args.k), args.reps, barrier)}
    impl = 'cpp' if ops.WITH_EXTENSION else 'torch'
    start, end = comm.shard_range(args.m, join.column_align(impl, x.device, 0))
    local = _best(lambda: ops.sim_topk(x, y[start:end], args.k) if end > start else None, args.reps)
    row['local_s'] = local  # no barrier: this rank's own compute
    kk = min(args.k, args.m)
    v = torch.randn(args.n, kk).sort(1, descending=True).values
    i = torch.randint(0, args.m, (args.n, kk))
    row['merge_s'] = _best(lambda: join.merge_topk(v, i, kk), args.reps, barrier)
    row['merge_bytes_per_rank'] = args.n * kk * (v.element_size() + i.element_size())
    gathers = []
    for size in GATHER_BYTES:
        buf = torch.zeros(size // 4)
        parts = [torch.empty_like(buf) for _ in range(args.world)]
        s = _best(lambda: dist.all_gather(parts, buf), max(args.reps, 5), barrier)
        gathers.append({'bytes_per_rank': size, 'seconds': s,
                        'received_gb_per_s': (args.world - 1) * size / s / 1e9})
    row['all_gather'] = gathers
    top = ops.sim_topk(x, y, args.k)
    locals_ = [None] * args.world
    dist.all_gather_object(locals_, row['local_s'])
    row['local_s_by_rank'] = locals_
    if rank == 0:
        torch.save(tuple(top), Path(out_dir) / 'sharded.pt')
        (Path(out_dir) / 'rank0.json').write_text(json.dumps(row))
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=20000)
    parser.add_argument('--m', type=int, default=20000)
    parser.add_argument('--d', type=int, default=300)
    parser.add_argument('--k', type=int, default=10)
    parser.add_argument('--world', type=int, default=2, help='gloo processes (1 thread each)')
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--name', default='distributed_rates')
    args = parser.parse_args()
    flop = 2 * args.n * args.m * args.d
    load_before = os.getloadavg()
    one, top = _one_process(args)
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(args, _free_port(), tmp), nprocs=args.world, join=True)
        sharded = json.loads((Path(tmp) / 'rank0.json').read_text())
        top_sharded = torch.load(Path(tmp) / 'sharded.pt')
    equal = all(torch.equal(a, b) for a, b in zip(top, top_sharded) if a is not None)
    base = one[f'sim_topk_s_{args.world}_threads']
    summary = {
        'one_process_gflops': flop / base / 1e9,
        'one_process_1_thread_gflops': flop / one['sim_topk_s_1_threads'] / 1e9,
        'sharded_gflops': flop / sharded['sharded_sim_topk_s'] / 1e9,
        'ratio_one_process_over_sharded': base / sharded['sharded_sim_topk_s'],
        'sharded_speedup_over_1_thread': one['sim_topk_s_1_threads'] / sharded['sharded_sim_topk_s'],
        'kernel_fraction_of_gemm': flop / one['sim_topk_s_1_threads'] / 1e9 / one['gemm_gflops_1_threads'],
        'merge_fraction_of_sharded': sharded['merge_s'] / sharded['sharded_sim_topk_s'],
        # the slowest rank's own join plus the merge: the sharded time on idle cores
        'sharded_ideal_s': max(sharded['local_s_by_rank']) + sharded['merge_s'],
        # one thread's join over P ranks' slowest local part: 1.0 = the work splits perfectly
        'compute_split_efficiency': one['sim_topk_s_1_threads'] / (args.world * max(sharded['local_s_by_rank'])),
        'all_gather_gb_per_s_largest': sharded['all_gather'][-1]['received_gb_per_s'],
        'all_gather_latency_s_smallest': sharded['all_gather'][0]['seconds'],
    }
    payload = {
        'benchmark': 'distributed_rates',
        'parameters': vars(args) | {'flop': flop, 'backend': 'gloo', 'device': 'cpu'},
        'load_average_before_after': [load_before, os.getloadavg()],
        'one_process': one, 'sharded': sharded, 'summary': summary,
        'check': {'sharded_equals_one_process': equal},
        'notes': ('One process uses P threads, the P gloo ranks 1 thread each: the same cores. The machine is '
                  'shared (see the load average), so rates are lower bounds of an idle machine. '
                  'kernel_fraction_of_gemm = sim_topk rate / torch.mm rate on its tile shape, 1 thread; '
                  'sharded_ideal_s = the slowest rank\'s own join + the merge (what idle cores would give).'),
    }
    path = write_result(args.name, payload)
    print(json.dumps(summary, indent=2))
    print(f'wrote {path}; sharded result equals one process: {equal}')


if __name__ == '__main__':
    main()
