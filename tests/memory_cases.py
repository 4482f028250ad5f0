"""Adversarial inputs for the memory bounds, run in a subprocess under an address-space limit.

``python tests/memory_cases.py CASE LIMIT_MIB`` builds the input of ``CASE``, then caps the process's data segment
with ``resource.setrlimit(RLIMIT_DATA)`` at its current size (``VmData``) plus ``LIMIT_MIB`` and runs the case.
RLIMIT_DATA counts the heap and private anonymous mappings, which is where torch's CPU allocator gets its
memory (``posix_memalign``, ``mmap`` for large blocks), while RLIMIT_AS would also count the shared libraries
and thread stacks that importing torch maps, which vary by machine. An allocation past the cap fails with
``RuntimeError: ... can't allocate memory`` (exit status 1); success prints one JSON line and exits 0.
"""
import json
import resource
import sys
import time

import torch
from torch_geometric.data import HeteroData

STAR_LEAVES = 20000  # hub degree on both sides: one padded N(u) x N(v) block is 32768^2 floats = 4 GiB
TIED_ROWS = 100_000  # rows and columns whose scores are all near-tied
BAG_NODES = 400_000  # entities per side whose dense [N, 1000] bag would be 1.5 GiB
BAG_DIM = 1000


def vm_data_bytes() -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmData:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmData in /proc/self/status')


def star_pair() -> HeteroData:
    """Two star graphs whose hubs (entity 0) are a seed pair; leaves carry random features (few clear eta)."""
    from psqe_pyg.features import relation_bag
    from psqe_pyg.pair.seeds import Seeds, set_seeds

    g = torch.Generator().manual_seed(0)
    data = HeteroData()
    n = STAR_LEAVES + 1
    for nt in ('src', 'tgt'):
        leaves = torch.arange(1, n)
        edge_index = torch.stack([torch.zeros_like(leaves), leaves])
        edge_type = torch.randint(0, 6, (STAR_LEAVES,), generator=g)
        data[nt].num_nodes = n
        data[nt].x_name = torch.randn(n, 16, generator=g)
        data[nt].x_rel = relation_bag(edge_index, edge_type, n, 6, dim=12)
        data[nt, 'rel', nt].edge_index = edge_index
        data[nt, 'rel', nt].edge_type = edge_type
    zero = torch.zeros(1, dtype=torch.long)
    return set_seeds(data, Seeds.of(zero, zero, torch.ones(1), stage=1))


def case_star_expansion() -> dict:
    """Stage 3 on the star pair: the hub x hub seed's 20k x 20k candidates must be scored in bounded blocks."""
    from psqe_pyg.pair.seeds import get_seeds
    from psqe_pyg.transforms import NeighborhoodExpansion

    data = star_pair()
    limit()
    out = NeighborhoodExpansion()(data)
    return {'seeds': len(get_seeds(out))}


def near_tied(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows ``[a_r, 1]`` and columns ``[1, b_c]``: scores ``a_r + b_c`` all within ``2e-4`` of each other, and every
    row ranks the columns alike (the shared column bias that stalls exact rounds). ``a`` and ``b`` are distinct
    multiples of ``2**-30``, so every score is exact in float32 and the greedy walk's unique answer is: the
    row of ``a``-rank ``i`` with the column of ``b``-rank ``i``. Returns ``x, y`` and that answer."""
    g = torch.Generator().manual_seed(0)
    a = torch.randperm(n, generator=g).float() * 2.0 ** -30
    b = torch.randperm(n, generator=g).float() * 2.0 ** -30
    x = torch.stack([a, torch.ones(n)], dim=1)
    y = torch.stack([torch.ones(n), b], dim=1)
    return x, y, a.argsort(descending=True), b.argsort(descending=True)


def case_near_tied_greedy() -> dict:
    """greedy_dense_match over 100k x 100k near-tied scores with a 2**20 candidate budget (10 per row): the full
    passes over the score matrix stay few and the matching is the greedy one."""
    import psqe_pyg.ops.dense_match as dm

    x, y, row_rank, col_rank = near_tied(TIED_ROWS)
    scored = 0
    sim_topk = dm.sim_topk

    def counted(a, b, *args, **kwargs):
        nonlocal scored
        scored += a.size(0) * b.size(0)
        if scored > 50 * TIED_ROWS ** 2:
            raise RuntimeError(f'more than 50 full passes over the {TIED_ROWS}^2 scores')
        return sim_topk(a, b, *args, **kwargs)

    dm.sim_topk = counted
    limit()
    match = dm.greedy_dense_match(x, y, TIED_ROWS, max_k=1 << 20)
    expected = torch.empty(TIED_ROWS, dtype=torch.long)
    expected[row_rank] = col_rank
    return {'pairs': match.row.numel(), 'greedy': bool(torch.equal(expected[match.row], match.col)),
            'passes': round(scored / TIED_ROWS ** 2, 2)}


def case_sparse_bags() -> dict:
    """Relation bags of 400k entities a side with 1000 columns: built, normalised, error-corrected seeds (fused
    features of the seeds' rows) and the secondary features' best match of 100 rows, without densifying
    N x vocabulary (dense, each bag is 1.5 GiB)."""
    from psqe_pyg.features import relation_bag
    from psqe_pyg.ops import sim_topk
    from psqe_pyg.pair.modalities import get_modalities, secondary_features
    from psqe_pyg.pair.seeds import Seeds, get_seeds, set_seeds
    from psqe_pyg.transforms import ErrorCorrection

    g = torch.Generator().manual_seed(0)
    data = HeteroData()
    edges = {}
    for nt in ('src', 'tgt'):
        data[nt].num_nodes = BAG_NODES
        data[nt].x_name = torch.randn(BAG_NODES, 8, generator=g)
        edges[nt] = (torch.randint(0, BAG_NODES, (2, 4 * BAG_NODES), generator=g),
                     torch.randint(0, 600, (4 * BAG_NODES,), generator=g))
    rows = torch.arange(0, BAG_NODES, BAG_NODES // 100)
    limit()
    for nt in ('src', 'tgt'):
        data[nt].x_rel = relation_bag(*edges[nt], BAG_NODES, 600, dim=BAG_DIM)
    kept = get_seeds(ErrorCorrection()(set_seeds(data, Seeds.of(rows, rows, torch.ones(rows.numel()), stage=1))))
    src, tgt = get_modalities(data)
    top = sim_topk(secondary_features(src).index_select(0, rows), secondary_features(tgt), 1)
    return {'kept': len(kept), 'best': float(top.values.max())}


def limit() -> None:
    """Caps the data segment at its current size plus the budget given on the command line."""
    cap = vm_data_bytes() + int(sys.argv[2]) * (1 << 20)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, resource.getrlimit(resource.RLIMIT_DATA)[1]))


CASES = {'star_expansion': case_star_expansion, 'near_tied_greedy': case_near_tied_greedy,
         'sparse_bags': case_sparse_bags}

if __name__ == '__main__':
    torch.set_num_threads(1)
    start = time.perf_counter()
    result = CASES[sys.argv[1]]()
    result['seconds'] = round(time.perf_counter() - start, 1)
    result['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(result))
