"""One small case per CUDA kernel of psqe_pyg, for ``compute-sanitizer --tool memcheck`` (tools/gpu_check.sh).

    compute-sanitizer --tool memcheck python tools/cuda_memcheck_cases.py sim_topk|kmeans|greedy_match

Calls ``torch.ops.psqe`` directly (no backend choice) on shapes with ragged tails, so every kernel reads and
writes the edges of its tiles; each output is compared with the pure-torch reference on the CPU. Run it with
``PYTORCH_NO_CUDA_MEMORY_CACHING=1``: without it torch's caching allocator hands out slices of larger blocks,
and memcheck cannot see an access past the end of a slice. Exit status 1 on a wrong result.
"""
import sys

import torch

from psqe_pyg import ops
from psqe_pyg.ops import reference

CUDA = torch.device('cuda')


def _data(n: int, d: int, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Small integers: exact in every dtype, so the kernels must match the reference bit for bit."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-2, 3, (n, d), generator=g).to(dtype)


def sim_topk() -> None:
    # fused fp32 FMA tiles, fused bf16 WMMA tiles, and the unfused path (k > 32), ragged in every dimension
    for n, m, d, k, dtype in [(70, 131, 19, 5, torch.float32), (70, 131, 24, 5, torch.bfloat16),
                              (33, 100, 7, 40, torch.float32)]:
        x, y = _data(n, d, 1, dtype), _data(m, d, 2, dtype)
        got = torch.ops.psqe.sim_topk(x.to(CUDA), y.to(CUDA), k, 0, 0, True)
        want = reference.sim_topk(x.float(), y.float(), k, 0, 0, True)
        for g, w, name in zip(got, want, ('values', 'indices', 'col_values', 'col_indices')):
            g = g.cpu().to(w.dtype)
            if not torch.equal(g, w):
                raise SystemExit(f'sim_topk {dtype} {n}x{m}x{d} k={k}: {name} differ from the reference')


def kmeans() -> None:
    x = _data(301, 13, 3)
    uniforms = ops.kmeans_uniforms(7, 0)
    idx = torch.ops.psqe.kmeans_pp_init(x.to(CUDA), uniforms.to(CUDA)).cpu()
    if not torch.equal(idx, reference.kmeans_pp_init(x, uniforms)):
        raise SystemExit('kmeans_pp_init differs from the reference')
    c, a, inertia = torch.ops.psqe.kmeans_lloyd(x.to(CUDA), x[idx].to(CUDA), 5, -1.0)
    _, _, want = reference.kmeans_lloyd(x, x[idx], 5, -1.0)
    # GEMM rounding may flip a near tie between centroids: compare the objective, and that every output is set
    c, a = c.cpu(), a.cpu()
    if not (bool(torch.isfinite(c).all()) and int(a.min()) >= 0 and int(a.max()) < 7
            and abs(inertia - want) <= 1e-4 * want):
        raise SystemExit(f'kmeans_lloyd: inertia {inertia} against the reference {want}, or unwritten outputs')


def greedy_match() -> None:
    g = torch.Generator().manual_seed(4)
    row = torch.randint(0, 50, (997,), generator=g)
    col = torch.randint(0, 40, (997,), generator=g)
    score = torch.randint(0, 20, (997,), generator=g).float()  # many ties: the stable order matters
    got = torch.ops.psqe.greedy_match(row.to(CUDA), col.to(CUDA), score.to(CUDA), -1).cpu()
    if not torch.equal(got, reference.greedy_match(row, col, score, -1)):
        raise SystemExit('greedy_match differs from the reference')


CASES = {'sim_topk': sim_topk, 'kmeans': kmeans, 'greedy_match': greedy_match}

if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        raise SystemExit(f'usage: {sys.argv[0]} {"|".join(CASES)}')
    CASES[sys.argv[1]]()
    torch.cuda.synchronize()
    print(f'{sys.argv[1]}: ok')
