"""What the 2-process tests compute (tests/test_distributed.py). Each function runs unchanged in one process
(the test's, no process group: the single-process answer) and under ``torchrun --nproc_per_node=2``
(tests/distributed_worker.py: the sharded answer); the test compares the two."""
import torch
from torch import Tensor

from psqe_pyg import ops
from psqe_pyg.distributed import comm

# (name, N, M, d, k, tile_cols, dtype, tied, backend): ragged tails (M not a multiple of the tile or of the
# ranks), k above a shard's columns and above M, more ranks than tiles (an empty shard), empty x, integer
# features (many exact ties), the default tiles (M above the CPU kernel's 2048 columns), bfloat16.
JOIN_CASES = [
    ('ragged', 37, 53, 8, 5, 8, torch.float32, False, 'auto'),
    ('ties', 41, 29, 6, 7, 4, torch.float32, True, 'auto'),
    ('ties_torch', 41, 29, 6, 7, 4, torch.float32, True, 'torch'),
    ('k_above_m', 10, 7, 4, 20, 2, torch.float32, True, 'auto'),
    ('one_tile', 12, 9, 5, 3, 16, torch.float32, True, 'auto'),
    ('empty_x', 0, 9, 3, 2, 4, torch.float32, False, 'auto'),
    ('default_tiles', 64, 4500, 16, 10, 0, torch.float32, True, 'auto'),
    ('float64', 23, 31, 5, 4, 8, torch.float64, True, 'auto'),
    ('bfloat16', 19, 27, 8, 6, 8, torch.bfloat16, False, 'torch'),
    ('bfloat16_ties', 19, 27, 8, 6, 8, torch.bfloat16, True, 'auto'),
]

KMEANS_CASES = [  # (name, N, d, k, iters, tol, tied, backend)
    ('default', 700, 12, 5, 50, 1e-4, False, 'auto'),
    ('ties', 601, 4, 6, 30, -1.0, True, 'auto'),
    ('torch', 530, 7, 4, 20, -1.0, False, 'torch'),
]


def _features(n: int, d: int, dtype: torch.dtype, tied: bool, gen: torch.Generator) -> Tensor:
    if tied:  # small integers: many exactly equal scores
        return torch.randint(-2, 3, (n, d), generator=gen).to(dtype)
    return torch.randn(n, d, generator=gen).to(dtype)


def join_results() -> dict[str, Tensor]:
    """sim_topk (with the column side) and mutual_nn on every case of :data:`JOIN_CASES`."""
    out = {}
    for name, n, m, d, k, tile_cols, dtype, tied, backend in JOIN_CASES:
        gen = torch.Generator().manual_seed(n * 1000 + m)
        x, y = _features(n, d, dtype, tied, gen), _features(m, d, dtype, tied, gen)
        top = ops.sim_topk(x, y, k, col_best=True, backend=backend, tile_cols=tile_cols)
        for field in top._fields:
            out[f'sim_topk/{name}/{field}'] = getattr(top, field)
        mnn = ops.mutual_nn(x, y, backend=backend, tile_cols=tile_cols)
        for field in mnn._fields:
            out[f'mutual_nn/{name}/{field}'] = getattr(mnn, field)
    return out


def kmeans_results() -> dict[str, Tensor]:
    out = {}
    for name, n, d, k, iters, tol, tied, backend in KMEANS_CASES:
        x = _features(n, d, torch.float32, tied, torch.Generator().manual_seed(n))
        result = ops.kmeans(x, k, iters=iters, seed=3, tol=tol, backend=backend)
        out[f'kmeans/{name}/centroids'] = result.centroids
        out[f'kmeans/{name}/assignment'] = result.assignment
        out[f'kmeans/{name}/inertia'] = torch.tensor(result.inertia, dtype=torch.float64)
    return out


def aligner_gradients() -> dict[str, Tensor]:
    """The gradients of one training step of the aligner on 64 pairs of a small synthetic pair (under a
    process group: DDP, each rank taking half of the loss rows)."""
    from psqe_pyg.datasets import load_dataset
    from psqe_pyg.distributed import ddp
    from psqe_pyg.nn import MultiModalAligner, aligner_inputs, bidirectional_info_nce
    from psqe_pyg.nn.aligner import FUSED_VIEW

    with comm.main_first():  # rank 0 writes the dataset cache, then the others read it
        data = load_dataset('synthetic', num_entities=200)
    inputs = aligner_inputs(data)
    torch.manual_seed(0)
    model = MultiModalAligner.for_inputs(inputs, hidden=16)
    net = ddp.wrap(model)
    pairs = data['src', 'same_as', 'tgt'].edge_index[:, :64]
    fused = net(inputs, torch.cat([pairs[0], pairs[1] + inputs.num_src]))[FUSED_VIEW]
    loss = bidirectional_info_nce(fused[:64], fused[64:], 0.1, rows=ddp.loss_rows(64))
    ddp.backward(loss)
    out = {f'grad/{name}': p.grad for name, p in model.named_parameters()}
    out['grad/loss'] = torch.tensor(ddp.total(loss))
    return out


def psqe_seeds() -> dict[str, Tensor]:
    """PSQE's seeds after every stage on the synthetic pair of 2,000 entities a side (2,200 with the extras:
    the stage-2 join splits over the CPU kernel's 2,048-column tiles), 2 stage-2 epochs."""
    from psqe_pyg.datasets import load_dataset
    from psqe_pyg.pair import get_history
    from psqe_pyg.pipeline import generate_seeds

    with comm.main_first():
        data = load_dataset('synthetic', num_entities=2000)
    history, _ = get_history(generate_seeds(data, 'psqe', budget=300, seed=0, progress=False, epochs=2))
    return {f'psqe/{stage}/{field}': getattr(seeds, field)
            for stage, seeds in history.items() for field in seeds._fields}


def run_all() -> dict[str, Tensor]:
    return {**join_results(), **kmeans_results(), **aligner_gradients(), **psqe_seeds()}
