"""Backend choice and input validation shared by the ``psqe_pyg.ops`` wrappers."""
import torch
from torch import Tensor

from psqe_pyg.ops._extension import WITH_EXTENSION

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def has_kernel(op: str, device: torch.device) -> bool:
    """Whether the compiled library registers ``torch.ops.psqe.<op>`` for ``device``'s type."""
    if not WITH_EXTENSION:
        return False
    key = {'cpu': 'CPU', 'cuda': 'CUDA'}.get(device.type)
    if key is None:
        return False
    return bool(torch._C._dispatch_has_kernel_for_dispatch_key(f'psqe::{op}', key))


def resolve_backend(op: str, backend: str, device: torch.device, allowed: tuple[str, ...],
                    kernels: tuple[str, ...] | None = None) -> str:
    """Maps ``backend`` (``'auto'`` or one of ``allowed``) to the implementation that will run.

    ``'auto'`` is the compiled kernel when the ``kernels`` (default: ``op``) are registered for the
    device, else the pure-torch reference. Asking for ``'cpp'`` without a kernel, or ``'faiss'``
    without faiss, raises.
    """
    compiled = all(has_kernel(name, device) for name in (kernels or (op,)))
    if backend == 'auto':
        return 'cpp' if compiled else 'torch'
    if backend not in allowed:
        raise ValueError(f"{op}: backend must be 'auto' or one of {allowed}, got {backend!r}")
    if backend == 'cpp' and not compiled:
        why = ('the compiled extension is not loaded (psqe_pyg/_C.so missing or disabled)' if not WITH_EXTENSION
               else f'the compiled extension has no {device.type} kernel for it')
        raise RuntimeError(f"{op}: backend='cpp' requested but {why}; use backend='auto' or 'torch'")
    if backend == 'faiss':
        try:
            import faiss  # noqa: F401
        except ImportError as e:
            raise ImportError(f"{op}: backend='faiss' needs faiss (pip install faiss-cpu)") from e
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
