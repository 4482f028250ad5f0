"""Run by tests/test_distributed.py as ``torchrun --standalone --nproc_per_node=2 distributed_worker.py OUT
[ALIGN ARGS...]``: joins a gloo group, runs :func:`distributed_cases.run_all` and saves this rank's results to
``OUT/rank<r>.pt``; then, given arguments, runs ``psqe-pyg`` with them as torchrun's ``-m psqe_pyg`` would (one
launch for both: each start pays for importing torch and torch_geometric twice)."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from psqe_pyg.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import distributed_cases  # noqa: E402

if __name__ == '__main__':
    dist.init_process_group('gloo')
    results = distributed_cases.run_all()
    torch.save(results, Path(sys.argv[1]) / f'rank{dist.get_rank()}.pt')
    # the command joins the group that is already there, and leaves it
    sys.exit(main(sys.argv[2:]) if len(sys.argv) > 2 else dist.destroy_process_group())
