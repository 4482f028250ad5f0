"""Backend choice and input validation shared by the ``psqe_pyg.ops`` wrappers."""
import os
import warnings

import torch
from torch import Tensor

from psqe_pyg.ops._extension import WITH_EXTENSION

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: Whether the CUDA kernels (csrc/cuda) have passed tests/test_ops_cuda.py and memcheck on a GPU. Set True only
#: by the commit that adds that GPU test summary, benchmarks/results/gpu_check.json (tools/gpu_check.sh). While
#: False, ``backend='auto'`` runs the pure-torch path on CUDA tensors (tiled ``mm`` + ``topk``).
CUDA_KERNELS_VERIFIED = False
#: ``PSQE_PYG_CUDA_KERNELS=1`` lets ``backend='auto'`` pick the CUDA kernels while they are unverified.
CUDA_KERNELS_ENV = 'PSQE_PYG_CUDA_KERNELS'
_warned_unverified = False


def has_kernel(op: str, device: torch.device) -> bool:
    """Whether the compiled library registers ``torch.ops.psqe.<op>`` for ``device``'s type."""
    if not WITH_EXTENSION:
        return False
    key = {'cpu': 'CPU', 'cuda': 'CUDA'}.get(device.type)
    if key is None:
        return False
    return bool(torch._C._dispatch_has_kernel_for_dispatch_key(f'psqe::{op}', key))


def _warn_unverified_cuda(why: str) -> None:
    global _warned_unverified
    if not CUDA_KERNELS_VERIFIED and not _warned_unverified:
        _warned_unverified = True
        warnings.warn(f'psqe_pyg: running the CUDA kernels ({why}), which have not yet passed their tests on a '
                      'GPU (psqe_pyg.ops.CUDA_KERNELS_VERIFIED is False): check their results, or use the '
                      "pure-torch path (backend='torch', or 'auto' without PSQE_PYG_CUDA_KERNELS=1); "
                      'tools/gpu_check.sh runs the tests', stacklevel=4)


def auto_uses_kernel(op: str, device: torch.device) -> bool:
    """Whether ``backend='auto'`` runs the compiled kernel of ``op`` for ``device``: it is registered, and on
    CUDA the kernels are verified (:data:`CUDA_KERNELS_VERIFIED`) or opted in with ``PSQE_PYG_CUDA_KERNELS=1``."""
    if not has_kernel(op, device):
        return False
    if device.type != 'cuda' or CUDA_KERNELS_VERIFIED:
        return True
    if os.environ.get(CUDA_KERNELS_ENV) == '1':
        _warn_unverified_cuda(f'{CUDA_KERNELS_ENV}=1')
        return True
    return False


def resolve_backend(op: str, backend: str, device: torch.device, allowed: tuple[str, ...],
                    kernels: tuple[str, ...] | None = None) -> str:
    """Maps ``backend`` (``'auto'`` or one of ``allowed``) to the implementation that will run: ``'cpp'``
    (the compiled kernels ``kernels``, default ``(op,)``), ``'torch'`` or ``'faiss'``.

    ``'auto'`` is the compiled kernel where :func:`auto_uses_kernel` allows it, else the pure-torch
    reference. ``'cpp'`` asks for the compiled kernel of the input's device and ``'cuda'`` for the CUDA
    kernel (the input must be on a CUDA device); either raises without the kernel and warns once while
    the CUDA kernels are unverified. ``'faiss'`` without faiss raises.
    """
    names = kernels or (op,)
    if backend == 'auto':
        return 'cpp' if all(auto_uses_kernel(name, device) for name in names) else 'torch'
    if backend not in allowed:
        raise ValueError(f"{op}: backend must be 'auto' or one of {allowed}, got {backend!r}")
    if backend == 'cuda' and device.type != 'cuda':
        raise ValueError(f"{op}: backend='cuda' runs the CUDA kernel and needs CUDA tensors, got {device} tensors")
    if backend in ('cpp', 'cuda'):
        if not all(has_kernel(name, device) for name in names):
            why = ('the compiled extension is not loaded (psqe_pyg/_C.so missing or disabled)' if not WITH_EXTENSION
                   else f'the compiled extension has no {device.type} kernel for it')
            raise RuntimeError(f"{op}: backend={backend!r} requested but {why}; use backend='auto' or 'torch'")
        if device.type == 'cuda':
            _warn_unverified_cuda(f'backend={backend!r}')
        return 'cpp'
    if backend == 'faiss':
        try:
            import faiss  # noqa: F401
        except ImportError as e:
            raise ImportError(f"{op}: backend='faiss' needs faiss (pip install faiss-cpu, or faiss-gpu)") from e
    return backend


def check_features(t: Tensor, name: str, who: str, *, dtypes: tuple = FLOAT_DTYPES, finite: bool = True) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f'{who}: {name} must be a torch.Tensor, got {type(t).__name__}')
    if t.dim() != 2:
        raise ValueError(f'{who}: {name} must be a 2-D tensor [rows, dim], got shape {tuple(t.shape)}')
    if t.dtype not in dtypes:
        names = ', '.join(str(d).replace('torch.', '') for d in dtypes)
        raise TypeError(f'{who}: {name} must be a floating tensor ({names}), got {t.dtype}')
    if finite and not all_finite(t):
        raise ValueError(f'{who}: {name} contains NaN or infinite values')


def all_finite(t: Tensor, chunk_elems: int = 1 << 20) -> bool:
    """Whether ``t`` has no NaN/inf, without an input-sized temporary.

    A finite sum proves it (a NaN, an inf or both signs of inf make the sum NaN or inf); only when the
    sum overflows are the rows checked exactly, chunk by chunk.
    """
    if t.layout == torch.sparse_coo:
        t = t.coalesce().values()  # only the stored entries can be non-finite
    elif t.layout == torch.sparse_csr:
        t = t.values()
    if t.numel() == 0:
        return True
    if bool(torch.isfinite(t.sum())):
        return True
    rows = max(1, chunk_elems // max(1, t[0].numel()))
    return all(bool(torch.isfinite(c).all()) for c in t.split(rows))


def check_positive_int(v, name: str, who: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, Tensor) and v.numel() == 1 and not v.dtype.is_floating_point:
            v = int(v)
        else:
            raise TypeError(f'{who}: {name} must be an int, got {type(v).__name__}')
    if v < 1:
        raise ValueError(f'{who}: {name} must be >= 1, got {v}')
    return v


def check_index_vector(t: Tensor, name: str, who: str, length: int | None = None) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f'{who}: {name} must be a torch.Tensor, got {type(t).__name__}')
    if t.dim() != 1:
        raise ValueError(f'{who}: {name} must be 1-D, got shape {tuple(t.shape)}')
    if t.dtype != torch.long:
        raise TypeError(f'{who}: {name} must be int64, got {t.dtype}')
    if length is not None and t.numel() != length:
        raise ValueError(f'{who}: {name} must have {length} entries (one per candidate), got {t.numel()}')
