"""What every benchmark records next to its numbers: the machine and the versions."""
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / 'results'
REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / 'shared' / 'data'


def _cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def _git_commit() -> str | None:
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def environment() -> dict:
    """Machine (CPU, cores, GPU) and versions (python, torch, torch_geometric, psqe_pyg, faiss)."""
    import psqe_pyg
    import torch_geometric
    from psqe_pyg import ops
    env = {
        'date': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'machine': {'platform': platform.platform(), 'cpu': _cpu_model(), 'cpu_count': os.cpu_count(),
                    'torch_threads': torch.get_num_threads(),
                    'gpu': torch.cuda.get_device_name() if torch.cuda.is_available() else None},
        'versions': {'python': platform.python_version(), 'torch': torch.__version__,
                     'torch_geometric': torch_geometric.__version__, 'psqe_pyg': psqe_pyg.__version__,
                     'compiled_ops': ops.WITH_EXTENSION, 'git_commit': _git_commit()},
    }
    try:
        import faiss
        env['versions']['faiss'] = faiss.__version__
    except ImportError:
        env['versions']['faiss'] = None
    return env


def earlier_entries(name: str, key: str) -> dict:
    """The ``key`` entries (datasets, runs, ...) that ``benchmarks/results/<name>.json`` holds from earlier runs, so
    that a run of some of them keeps the others; ``{}`` when there is no such file."""
    path = RESULTS / f'{name}.json'
    return json.loads(path.read_text()).get(key, {}) if path.exists() else {}


def write_result(name: str, payload: dict) -> Path:
    """Writes ``payload`` with :func:`environment` to ``benchmarks/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f'{name}.json'
    path.write_text(json.dumps({'environment': environment(), **payload}, indent=2) + '\n')
    return path
