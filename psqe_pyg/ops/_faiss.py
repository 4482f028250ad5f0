"""faiss for the ``'faiss'`` backend: exact flat indexes on the GPU for CUDA tensors when faiss has GPU support
(faiss-gpu: ``StandardGpuResources`` + ``GpuIndexFlatIP``/``GpuIndexFlatL2``, fed the CUDA tensors themselves
through ``faiss.contrib.torch_utils``), else on the CPU."""
import contextlib
import functools

import torch
from torch import Tensor

#: The largest k a faiss GPU index searches; larger searches run on the CPU index.
GPU_MAX_K = 2048


def on_gpu(device: torch.device, k: int = 1) -> bool:
    """Whether faiss serves a ``k``-NN search over rows on ``device`` on the GPU: CUDA rows, a faiss with GPU
    support that sees a GPU, and ``k <= GPU_MAX_K``."""
    import faiss
    return (device.type == 'cuda' and k <= GPU_MAX_K and hasattr(faiss, 'StandardGpuResources')
            and faiss.get_num_gpus() > 0)


@functools.cache
def _resources(device_index: int):
    import faiss
    return faiss.StandardGpuResources()


def _device_index(device: torch.device) -> int:
    return device.index if device.index is not None else torch.cuda.current_device()


def flat_index(d: int, metric: str, device: torch.device, gpu: bool):
    """An exact flat index over ``d``-dim rows, ``metric`` ``'ip'`` or ``'l2'``: on ``device``'s GPU with
    ``gpu``, else on the CPU."""
    import faiss
    if not gpu:
        return faiss.IndexFlatIP(d) if metric == 'ip' else faiss.IndexFlatL2(d)
    config = faiss.GpuIndexFlatConfig()
    config.device = _device_index(device)
    cls = faiss.GpuIndexFlatIP if metric == 'ip' else faiss.GpuIndexFlatL2
    return cls(_resources(config.device), d, config)


def rows(t: Tensor, gpu: bool):
    """``t`` as faiss takes it: float32 contiguous, the CUDA tensor itself for a GPU index, else numpy."""
    t = t.detach().to(torch.float32).contiguous()
    if gpu:
        import faiss.contrib.torch_utils  # noqa: F401  (faiss's GPU indexes then take torch tensors)
        return t
    return t.cpu().numpy()


@contextlib.contextmanager
def stream(device: torch.device, gpu: bool):
    """Runs faiss's GPU work on torch's current stream of ``device`` (nothing to do on the CPU)."""
    if not gpu:
        yield
        return
    from faiss.contrib.torch_utils import using_stream
    with torch.cuda.device(device), using_stream(_resources(_device_index(device))):
        yield
