"""Which implementation ``backend=`` picks: ``'auto'`` never runs an unverified CUDA kernel.

The rule is checked on the CPU by pretending that the compiled library registers kernels for both devices
(``has_kernel`` monkeypatched); no tensor is made on CUDA.
"""
import json
import warnings
from pathlib import Path

import pytest
import torch

from psqe_pyg import ops
from psqe_pyg.ops import _backend

CPU, CUDA = torch.device('cpu'), torch.device('cuda')
SIM_TOPK_BACKENDS = ('cpp', 'cuda', 'torch', 'faiss')
GPU_CHECK = Path(__file__).resolve().parents[1] / 'benchmarks' / 'results' / 'gpu_check.json'


@pytest.fixture
def kernels(monkeypatch):
    """Kernels registered for every op on the CPU and CUDA, the warning not yet given, no opt-in variable."""
    monkeypatch.setattr(_backend, 'WITH_EXTENSION', True)
    monkeypatch.setattr(_backend, 'has_kernel', lambda op, device: device.type in ('cpu', 'cuda'))
    monkeypatch.setattr(_backend, '_warned_unverified', False)
    monkeypatch.delenv(_backend.CUDA_KERNELS_ENV, raising=False)


def resolve(backend: str, device: torch.device, kernels=None) -> str:
    return _backend.resolve_backend('sim_topk', backend, device, SIM_TOPK_BACKENDS, kernels=kernels)


def test_auto_runs_torch_on_cuda_while_the_kernels_are_unverified(kernels):
    assert ops.CUDA_KERNELS_VERIFIED is False and _backend.CUDA_KERNELS_VERIFIED is False
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert resolve('auto', CUDA) == 'torch'
        assert resolve('auto', CUDA, kernels=('kmeans_pp_init', 'kmeans_lloyd')) == 'torch'
        assert not _backend.auto_uses_kernel('greedy_match', CUDA)  # greedy_match: the CPU kernel then
        assert resolve('auto', CPU) == 'cpp'  # the CPU kernels are tested here: auto keeps them


def test_the_variable_opts_in_with_one_warning(kernels, monkeypatch):
    monkeypatch.setenv(_backend.CUDA_KERNELS_ENV, '1')
    with pytest.warns(UserWarning, match='CUDA_KERNELS_VERIFIED is False'):
        assert resolve('auto', CUDA) == 'cpp'
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # once per process
        assert resolve('auto', CUDA) == 'cpp'
        assert _backend.auto_uses_kernel('greedy_match', CUDA)
    monkeypatch.setenv(_backend.CUDA_KERNELS_ENV, '0')
    assert resolve('auto', CUDA) == 'torch'


@pytest.mark.parametrize('backend', ['cuda', 'cpp'])
def test_asking_for_the_cuda_kernel_runs_it_with_one_warning(kernels, backend):
    with pytest.warns(UserWarning, match='not yet passed their tests on a GPU'):
        assert resolve(backend, CUDA) == 'cpp'
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert resolve(backend, CUDA) == 'cpp'


def test_verified_kernels_run_under_auto_without_a_warning(kernels, monkeypatch):
    monkeypatch.setattr(_backend, 'CUDA_KERNELS_VERIFIED', True)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert resolve('auto', CUDA) == 'cpp'
        assert resolve('cuda', CUDA) == 'cpp'


def test_a_missing_cuda_kernel_is_never_picked(monkeypatch):
    monkeypatch.setattr(_backend, 'WITH_EXTENSION', True)
    monkeypatch.setattr(_backend, 'has_kernel', lambda op, device: device.type == 'cpu')
    monkeypatch.setattr(_backend, 'CUDA_KERNELS_VERIFIED', True)
    monkeypatch.setenv(_backend.CUDA_KERNELS_ENV, '1')
    assert resolve('auto', CUDA) == 'torch'
    with pytest.raises(RuntimeError, match="backend='cuda' requested but the compiled extension has no cuda kernel"):
        resolve('cuda', CUDA)


def test_the_cuda_backend_needs_cuda_tensors():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match="backend='cuda' runs the CUDA kernel and needs CUDA tensors, got cpu"):
        ops.sim_topk(x, x, 2, backend='cuda')
    with pytest.raises(ValueError, match='needs CUDA tensors'):
        ops.kmeans(x, 2, backend='cuda')
    with pytest.raises(ValueError, match='needs CUDA tensors'):
        ops.greedy_match(torch.arange(3), torch.arange(3), torch.rand(3), backend='cuda')
    with pytest.raises(ValueError, match="backend must be 'auto' or one of"):
        ops.sim_topk(x, x, 2, backend='gpu')


def test_the_verified_flag_matches_the_recorded_gpu_check():
    """CUDA_KERNELS_VERIFIED is True exactly when benchmarks/results/gpu_check.json (tools/gpu_check.sh)
    records a GPU run of tests/test_ops_cuda.py in which tests ran and none failed, and clean memcheck runs."""
    passed = False
    if GPU_CHECK.is_file():
        check = json.loads(GPU_CHECK.read_text())
        tests = check['tests']['test_ops_cuda']
        memcheck = [step for name, step in check['steps'].items() if name.startswith('memcheck_')]
        passed = (tests['passed'] > 0 and tests['failed'] == 0 and tests['errors'] == 0
                  and bool(memcheck) and all(step['passed'] for step in memcheck))
    assert ops.CUDA_KERNELS_VERIFIED is passed, (
        f'CUDA_KERNELS_VERIFIED is {ops.CUDA_KERNELS_VERIFIED} but {GPU_CHECK} '
        f'{"records passing GPU tests" if passed else "does not record passing GPU tests"}')
