"""Shared pytest fixtures.

* ``shared_data``: the public benchmark files (``<repo>/../shared/data``); tests that use it skip
  with a clear reason when the folder is absent (e.g. on a user's machine).
* ``PSQE_PYG_CACHE``: for the whole session the processed-dataset cache points at a temporary
  folder, so tests never write next to the raw files and never read a stale cache from an earlier
  run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / '..' / 'shared' / 'data').resolve()


@pytest.fixture(scope='session', autouse=True)
def psqe_cache_dir(tmp_path_factory) -> Path:
    """Session-wide ``PSQE_PYG_CACHE`` in a fresh temporary folder (restored afterwards)."""
    path = tmp_path_factory.mktemp('psqe_pyg_cache')
    old = os.environ.get('PSQE_PYG_CACHE')
    os.environ['PSQE_PYG_CACHE'] = str(path)
    yield path
    if old is None:
        os.environ.pop('PSQE_PYG_CACHE', None)
    else:
        os.environ['PSQE_PYG_CACHE'] = old


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Path to the shared benchmark data (DBP15K/, SRPRS/); skips when it is absent."""
    if not (SHARED_DATA / 'DBP15K').is_dir() and not (SHARED_DATA / 'SRPRS').is_dir():
        pytest.skip(f'shared benchmark data not found at {SHARED_DATA} (expected DBP15K/ and '
                    'SRPRS/ there; see ../shared/data/MANIFEST.md)')
    return SHARED_DATA
