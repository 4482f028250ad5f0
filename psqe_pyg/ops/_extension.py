"""Loads the compiled ``psqe`` op library (``psqe_pyg/_C*.so``) into ``torch.ops``."""
import glob
import importlib.util
import logging
import os
import warnings

import torch

log = logging.getLogger(__name__)


def _find_library() -> str | None:
    spec = importlib.util.find_spec('psqe_pyg._C')
    if spec is not None and spec.origin and os.path.isfile(spec.origin):
        return spec.origin
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    hits = sorted(glob.glob(os.path.join(pkg, '_C*.so')))
    return hits[0] if hits else None


def _load() -> tuple[bool, bool]:
    if os.environ.get('PSQE_PYG_DISABLE_EXTENSION') == '1':
        return False, False
    path = _find_library()
    if path is None:
        warnings.warn(
            "psqe_pyg: the compiled op library (psqe_pyg/_C.so) was not found; "
            "the pure-torch implementations serve instead (slower). Build it with "
            "'pip install --no-build-isolation .'", stacklevel=3)
        return False, False
    try:
        torch.ops.load_library(path)
    except OSError as e:  # e.g. built against another torch
        warnings.warn(f"psqe_pyg: could not load {path} ({e}); the pure-torch "
                      "implementations serve instead", stacklevel=3)
        return False, False
    log.debug('loaded %s', path)
    return True, bool(torch.ops.psqe.with_cuda())


WITH_EXTENSION, WITH_CUDA = _load()
