"""Parameters shared by the op tests: devices and backends to run, and the skips they need."""
import pytest
import torch

from psqe_pyg import ops
from psqe_pyg.ops._backend import has_kernel

DEVICES = ['cpu', pytest.param('cuda', marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                                 reason='no CUDA device'))]
BACKENDS = ['torch', pytest.param('cpp', marks=pytest.mark.skipif(not ops.WITH_EXTENSION,
                                                                  reason='compiled extension not built'))]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: intra-op threads only add barrier cost (severe on a loaded machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def needs(*default_kernels: str):
    """A ``need(backend, device, *kernels)`` that skips a ``backend='cpp'`` case when the compiled library
    lacks one of the kernels (default: ``default_kernels``) for ``device``."""
    def need(backend: str, device: str, *kernels: str) -> None:
        kernels = kernels or default_kernels
        if backend == 'cpp' and not all(has_kernel(op, torch.device(device)) for op in kernels):
            pytest.skip(f'the compiled library has no {device} kernel for {", ".join(kernels)}')
    return need
