"""backend='faiss' on CUDA tensors: a faiss GPU index (StandardGpuResources + GpuIndexFlatIP / GpuIndexFlatL2)
when faiss has GPU support. Skips where faiss-gpu or a GPU is absent."""
import pytest
import torch

from psqe_pyg import ops
from psqe_pyg.ops import _faiss

faiss = pytest.importorskip('faiss', reason='faiss is not installed')
pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or not hasattr(faiss, 'StandardGpuResources') or faiss.get_num_gpus() == 0,
    reason='needs faiss-gpu and a CUDA device (faiss-cpu or no GPU here)')
CUDA = torch.device('cuda')


@pytest.fixture
def indexes(monkeypatch):
    """The classes of the faiss indexes the ops build."""
    made = []

    def record(*args, **kwargs):
        index = flat_index(*args, **kwargs)
        made.append(type(index).__name__)
        return index
    flat_index = _faiss.flat_index
    monkeypatch.setattr(_faiss, 'flat_index', record)
    return made


def test_sim_topk_searches_a_gpu_index(indexes):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 32, generator=g), torch.randn(500, 32, generator=g)
    out = ops.sim_topk(x.to(CUDA), y.to(CUDA), 7, col_best=True, backend='faiss')
    ref = ops.sim_topk(x, y, 7, col_best=True, backend='torch')
    assert indexes and set(indexes) == {'GpuIndexFlatIP'}
    assert out.values.device.type == 'cuda' and out.indices.device.type == 'cuda'
    torch.testing.assert_close(out.values.cpu(), ref.values, rtol=1e-4, atol=1e-4)
    assert (out.indices.cpu() == ref.indices).float().mean() > 0.99  # near ties may order differently
    torch.testing.assert_close(out.col_values.cpu(), ref.col_values, rtol=1e-4, atol=1e-4)


def test_kmeans_trains_on_a_gpu_index(indexes):
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(5, 16, generator=g) * 10
    x = (centers[torch.arange(2000) % 5] + torch.randn(2000, 16, generator=g)).to(CUDA)
    out = ops.kmeans(x, 5, iters=20, seed=0, backend='faiss')
    assert set(indexes) == {'GpuIndexFlatL2'}
    cpu = ops.kmeans(x.cpu(), 5, iters=20, seed=0, backend='faiss')
    assert out.centroids.device.type == 'cuda'
    assert out.inertia == pytest.approx(cpu.inertia, rel=1e-3)
