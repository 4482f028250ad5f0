"""torch.distributed: 2 gloo processes on the CPU (torchrun) give the single-process results.

The sharded join (sim_topk, mutual_nn), k-means and PSQE's seeds must be equal bit for bit, tie order
included; the aligner's DDP gradients equal up to float rounding (the loss terms are added in another order);
``psqe-pyg align`` under torchrun reports the same metrics as one process (within 1e-5) and only rank 0 writes.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from psqe_pyg.cli import main
from psqe_pyg.distributed import comm

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import distributed_cases  # noqa: E402

SMALL_ALIGN = ['align', '--num-entities', '300', '--budget', '60', '--psqe-epochs', '3', '--steps', '20',
               '--refine-every', '10', '--hidden', '16', '--quiet', '--device', 'cpu']


def torchrun(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 ARGS`` (a free port), with this process's thread count."""
    env = {**os.environ, 'OMP_NUM_THREADS': str(torch.get_num_threads()), 'PYTHONPATH': str(TESTS.parent)}
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2',
                           *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope='module')
def launch(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One torchrun launch of 2 gloo processes: :func:`distributed_cases.run_all`, then ``psqe-pyg`` with
    :data:`SMALL_ALIGN` (writing ``two.json`` and ``two.tsv``); returns the folder and the finished launch."""
    out = tmp_path_factory.mktemp('ranks')
    proc = torchrun([str(TESTS / 'distributed_worker.py'), str(out), *SMALL_ALIGN, '--json', str(out / 'two.json'),
                     '--output', str(out / 'two.tsv')])
    return out, proc


@pytest.fixture(scope='module')
def two_ranks(launch) -> list[dict[str, torch.Tensor]]:
    """Both ranks' results of :func:`distributed_cases.run_all` under 2 gloo processes."""
    return [torch.load(launch[0] / f'rank{r}.pt') for r in range(2)]


@pytest.fixture(scope='module')
def one_process() -> dict[str, torch.Tensor]:
    assert not dist.is_initialized()
    return distributed_cases.run_all()


def _assert_equal(one: dict, ranks: list[dict], prefix: str) -> None:
    keys = [k for k in one if k.startswith(prefix)]
    assert keys
    for r, got in enumerate(ranks):
        for key in keys:
            assert got[key].dtype == one[key].dtype and got[key].shape == one[key].shape, (r, key)
            assert torch.equal(got[key], one[key]), f'rank {r}: {key} differs from one process'


def test_shard_ranges_partition_rows_on_tile_boundaries():
    for n, align, world in ((0, 1, 2), (5, 1, 2), (53, 8, 2), (53, 8, 3), (9, 16, 4), (4500, 2048, 2)):
        ranges = [comm.shard_range(n, align, r, world) for r in range(world)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert all(s % align == 0 or s == n for s, _ in ranges)
        blocks = [-(-(e - s) // align) for s, e in ranges]  # whole tiles per rank: balanced to one
        assert max(blocks) - min(blocks) <= 1
    assert comm.shard_range(10) == (0, 10) and comm.world_size() == 1 and comm.is_main()


@pytest.mark.parametrize('op', ['sim_topk', 'mutual_nn'])
def test_sharded_join_equals_one_process(two_ranks, one_process, op):
    _assert_equal(one_process, two_ranks, f'{op}/')
    # the cases do hold ties and shards shorter than k: the equality is about tie order, not luck
    values = one_process['sim_topk/ties/values']
    assert bool((values[:, 1:] == values[:, :-1]).any())
    assert one_process['sim_topk/k_above_m/indices'].shape == (10, 7)


def test_sharded_kmeans_equals_one_process(two_ranks, one_process):
    _assert_equal(one_process, two_ranks, 'kmeans/')


def test_psqe_seeds_equal_one_process(two_ranks, one_process):
    _assert_equal(one_process, two_ranks, 'psqe/')
    assert one_process['psqe/stage3_correction/edge_index'].size(1) > 100


def test_ddp_gradients_equal_one_process(two_ranks, one_process):
    keys = [k for k in one_process if k.startswith('grad/')]
    assert len(keys) > 5
    for got in two_ranks:
        for key in keys:
            assert torch.allclose(got[key], one_process[key], rtol=1e-5, atol=1e-7), key
            assert bool(one_process[key].ne(0).any()), key  # every parameter does get a gradient


def _compare(one, two, path: str = '') -> None:
    """Every number of the two JSON results within 1e-5 (timings and the output paths excepted)."""
    if isinstance(one, dict):
        assert set(one) == set(two), path
        for key in one:
            if not key.endswith('_s') and key != 'output':
                _compare(one[key], two[key], f'{path}/{key}')
    elif isinstance(one, list):
        assert len(one) == len(two), path
        for i, (a, b) in enumerate(zip(one, two)):
            _compare(a, b, f'{path}[{i}]')
    elif isinstance(one, float):
        assert math.isclose(one, two, rel_tol=0, abs_tol=1e-5), (path, one, two)
    else:
        assert one == two, (path, one, two)


def test_cli_align_under_torchrun_matches_one_process(launch, tmp_path):
    out, proc = launch
    assert main([*SMALL_ALIGN, '--json', str(tmp_path / 'one.json'), '--output', str(tmp_path / 'one.tsv')]) == 0
    one, two = json.loads((tmp_path / 'one.json').read_text()), json.loads((out / 'two.json').read_text())
    _compare(one, two)
    assert one['cosine']['mean']['hits@1'] > 0.5
    fields = [[line.split('\t')[i] for i in (0, 1, 3)] for line in (tmp_path / 'one.tsv').read_text().splitlines()]
    assert fields == [[line.split('\t')[i] for i in (0, 1, 3)] for line in (out / 'two.tsv').read_text().splitlines()]
    assert proc.stdout.count('synthetic: 210 test links') == 1  # rank 0 alone printed the summary
    assert proc.stderr.count(f"wrote {out / 'two.json'}") == 1  # and logged the file it wrote
