"""The whole pipeline is device-agnostic: every tensor the library makes is made on its input's device.

``torch.set_default_device('meta')`` with the pair on the CPU turns any tensor created without
``device=`` into a meta tensor, and the first op that mixes it with a CPU tensor raises (:func:`meta_default`
makes that hold for every op: torch itself lets a CPU tensor be indexed by a meta index and reads garbage);
so a run that succeeds, with exactly the seeds and metrics of a normal run, proves the code device-clean on a
machine without a GPU. ``test_cpu_cuda_parity`` runs the same pipeline on a CUDA device
(``tools/gpu_check.sh``).
"""
import contextlib
import copy
import dataclasses

import pytest
import torch
from pair_factory import random_pair
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from psqe_pyg.pair import get_history
from psqe_pyg.pipeline import AlignerConfig, train_and_evaluate, train_on_seeds
from psqe_pyg.prediction import predict_alignment
from psqe_pyg.transforms import PSQE, VisualPivot, get_seeds

CONFIG = AlignerConfig(hidden=16, steps=12, batch_size=64, refine_every=4)


def _pair():
    return random_pair(60, 56, seed=3, modalities=('x_img', 'x_name', 'x_attr', 'x_rel'))


class _NoMetaMixing(TorchFunctionMode):
    """Raises on any op that takes a meta tensor together with a tensor on another device."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        devices = {t.device.type for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        if 'meta' in devices and len(devices) > 1:
            raise RuntimeError(f'{getattr(func, "__name__", func)} mixes a meta tensor (made without device=) '
                               f'with {sorted(devices - {"meta"})} tensors')
        return func(*args, **kwargs)


@contextlib.contextmanager
def meta_default():
    """``meta`` as the default device, and every op that mixes a meta tensor with another device raises."""
    torch.set_default_device('meta')
    try:
        with _NoMetaMixing():
            yield
    finally:
        torch.set_default_device(None)


def run_pipeline(data, device: str) -> dict:
    """PSQE (all stages, few epochs) and VisualPivot seeds, the aligner with iterative learning trained on each
    (mean aggregation and attention), evaluation with every one-to-one decoder, and the predicted alignment
    with its threshold, with the pair on ``device``."""
    data = copy.copy(data).to(device)  # the caller's pair stays where it is
    out = {}
    psqe = PSQE(budget=24, num_clusters=3, epochs=3, hidden=16, batch_size=32, seed=1, progress=False)
    seeded = {'psqe': psqe(copy.copy(data)), 'pivot': VisualPivot(24)(copy.copy(data))}
    out['psqe_stages'] = get_history(seeded['psqe'])[0]
    for method, pair in seeded.items():
        out[f'{method}_seeds'] = get_seeds(pair)
        for attention in (False, True):
            config = dataclasses.replace(CONFIG, attention=attention)
            result = train_and_evaluate(pair, config, device=device, seed=2, progress=False)
            for key in ('train_s', 'refine_s', 'eval_s'):
                result['training'].pop(key)
            out[f'{method}_aligner_attention={attention}'] = result
        # the prediction from embeddings late-fused with the propagated features
        src, tgt, _ = train_on_seeds(pair, dataclasses.replace(CONFIG, propagated=0.7), device=device, seed=2,
                                     progress=False)
        out[f'{method}_prediction'] = predict_alignment(src, tgt)
    return out


def assert_matches(a, b, *, exact: bool, path: str = 'run') -> None:
    """``a`` equals ``b`` throughout (tensors on the same device, bit for bit) or, across devices
    (``exact=False``), with integer tensors and non-float values equal and float values close: a GEMM on
    another device rounds differently. The ``'device'`` entries may differ then."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype, path
        if exact:
            assert a.device == b.device and torch.equal(a, b), path
        elif a.is_floating_point():
            torch.testing.assert_close(a.cpu(), b.cpu(), rtol=1e-4, atol=1e-5, msg=path)
        else:
            assert torch.equal(a.cpu(), b.cpu()), path
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            if exact or key != 'device':
                assert_matches(a[key], b[key], exact=exact, path=f'{path}[{key!r}]')
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_matches(x, y, exact=exact, path=f'{path}[{i}]')
    elif isinstance(a, float) and not exact:
        assert a == pytest.approx(b, rel=1e-4, abs=1e-5), path
    else:
        assert a == b, f'{path}: {a!r} != {b!r}'


def test_pipeline_makes_every_tensor_on_the_input_device():
    data = _pair()
    expected = run_pipeline(data, 'cpu')
    assert len(expected['psqe_seeds']) > 0 and len(expected['pivot_seeds']) > 0
    assert expected['psqe_aligner_attention=False']['training']['rounds'], 'iterative learning never ran'
    with meta_default():
        got = run_pipeline(data, 'cpu')
    assert_matches(got, expected, exact=True)


def test_a_tensor_made_without_device_fails_the_meta_run():
    """The check itself: a tensor made without device= raises at its first use with the input."""
    x = torch.ones(3, device='cpu')
    with meta_default():
        for use in (lambda i: x[i], lambda i: x.index_fill(0, i, 0.0), lambda i: x + i):
            with pytest.raises(RuntimeError, match='mixes a meta tensor'):
                use(torch.arange(2))
        x.index_fill(0, torch.arange(2, device='cpu'), 0.0)  # made on the input's device: fine


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device: run tools/gpu_check.sh on a GPU machine')
def test_cpu_cuda_parity():
    """The same seeds and metrics on a CUDA device as on the CPU (``backend='auto'`` on both)."""
    data = _pair()
    cpu = run_pipeline(data, 'cpu')
    cuda = run_pipeline(data, 'cuda')
    assert_matches(cuda, cpu, exact=False)
