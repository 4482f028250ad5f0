"""Where psqe_pyg keeps what it computes once (processed datasets, slow name embeddings)."""
import os
from pathlib import Path

#: The environment variable that names the cache folder.
CACHE_ENV = 'PSQE_PYG_CACHE'


def cache_root() -> Path:
    """``$PSQE_PYG_CACHE`` when set, else ``~/.cache/psqe_pyg``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / '.cache' / 'psqe_pyg'
