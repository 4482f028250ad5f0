"""k-means (k-means++ seeding + Lloyd iterations with a fused, tiled assignment step)."""
import math
from typing import NamedTuple

import torch
from torch import Tensor

from psqe_pyg.distributed import comm
from psqe_pyg.ops import _faiss, reference, sharded_kmeans
from psqe_pyg.ops._backend import check_features, check_positive_int, resolve_backend

BACKENDS = ('cpp', 'cuda', 'torch', 'faiss')


class KMeansResult(NamedTuple):
    """Result of :func:`kmeans`: ``centroids [k, d]`` (x's dtype), ``assignment [N]`` int64 (each row's
    nearest centroid, ties to the lower id) and ``inertia`` = sum of squared distances to it (float64 sum)."""
    centroids: Tensor
    assignment: Tensor
    inertia: float


def kmeans_uniforms(k: int, seed: int) -> Tensor:
    """The ``k`` float64 uniforms in [0, 1) that drive k-means++ seeding for ``seed`` (CPU generator, so
    every backend and device consumes identical randomness)."""
    gen = torch.Generator(device='cpu')
    gen.manual_seed(int(seed))
    return torch.rand(k, generator=gen, dtype=torch.float64, device='cpu')


def _faiss_kmeans(x: Tensor, k: int, iters: int, seed: int) -> Tensor:
    """faiss's k-means (what ``faiss.Kmeans`` runs), on the GPU for CUDA rows when faiss has GPU support."""
    import faiss

    xf = x.detach().to('cpu', torch.float32).contiguous().numpy()  # faiss's Clustering trains on host rows
    n, d = xf.shape
    clustering = faiss.Clustering(d, k)
    clustering.niter = max(int(iters), 1)
    clustering.seed = int(seed) % (2 ** 31)
    clustering.verbose = False
    # Train on every row (faiss subsamples beyond 256 rows per centroid by default).
    clustering.max_points_per_centroid = max(256, math.ceil(n / k))
    clustering.min_points_per_centroid = 1
    gpu = _faiss.on_gpu(x.device)
    with _faiss.stream(x.device, gpu):
        clustering.train(xf, _faiss.flat_index(d, 'l2', x.device, gpu))
    centroids = faiss.vector_to_array(clustering.centroids).reshape(k, d)
    return torch.from_numpy(centroids).to(x.device, x.dtype)


def _mean_variance(x: Tensor) -> float:
    """mean_j Var(x[:, j]) in float64, by row chunks (no float64 copy of x)."""
    n, d = x.shape
    if n < 2 or d == 0:
        return 0.0
    s1 = torch.zeros(d, dtype=torch.float64, device=x.device)
    s2 = torch.zeros(d, dtype=torch.float64, device=x.device)
    for c in x.split(reference.rows_per_chunk(d)):
        c = c.double()
        s1 += c.sum(0)
        s2 += c.pow(2).sum(0)
    mean = s1 / n
    return float((s2 / n - mean * mean).clamp(min=0).mean())


def kmeans(x: Tensor, k: int, iters: int = 50, seed: int = 0, *, tol: float = 1e-4,
           backend: str = 'auto') -> KMeansResult:
    r"""k-means with k-means++ seeding, deterministic for a given ``seed``.

    Seeding draws ``k`` uniforms from ``torch.Generator().manual_seed(seed)``
    (:func:`kmeans_uniforms`) and picks rows by inverse CDF of the squared distance to the nearest
    seed so far; Lloyd iterations follow (ties to the lower centroid id; an empty cluster keeps its
    centroid; sums in float64). Iteration stops after ``iters`` steps or once no centroid moves by more
    than ``tol`` relative to the data: :math:`\max_c \|C'_c - C_c\|^2 \le tol \cdot
    \mathrm{mean}_j \mathrm{Var}(x_{:,j})` (``tol < 0``: always ``iters`` steps). The returned assignment
    and inertia are against the returned centroids.

    Under an initialised torch.distributed group every rank must call it with the same arguments: the
    Lloyd iterations are split over the ranks (:mod:`psqe_pyg.ops.sharded_kmeans`, not with ``'faiss'``)
    and give the single-process result.

    Args:
        x: ``[N, d]`` floating (float16/bfloat16 are clustered in float32).
        k: clusters, ``1 <= k <= N``.
        iters: maximum Lloyd iterations (``>= 0``).
        seed: seeds the k-means++ draw.
        tol: relative convergence tolerance (see above).
        backend: ``'auto'`` (as in :func:`~psqe_pyg.ops.sim_topk`), ``'cpp'`` (``torch.ops.psqe.kmeans_pp_init``
            + ``kmeans_lloyd``), ``'cuda'`` (their CUDA kernels),
            ``'torch'`` (the pure-torch reference: same seeding, same iteration), or ``'faiss'``
            (faiss's k-means, as ``faiss.Kmeans``, seeded with ``seed``, trained on all rows, on the GPU for
            CUDA rows when faiss has GPU support; its seeding and iterations are faiss's own, so its
            clusters differ from ours; assignment and inertia are ours).

    Returns:
        :class:`KMeansResult`.
    """
    who = 'kmeans'
    check_features(x, 'x', who)
    k = check_positive_int(k, 'k', who)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise ValueError(f'{who}: iters must be an int >= 0, got {iters!r}')
    n = x.size(0)
    if n == 0:
        raise ValueError(f'{who}: x has no rows')
    if k > n:
        raise ValueError(f'{who}: k = {k} clusters exceeds the number of rows of x ({n})')
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    impl = resolve_backend(who, backend, x.device, BACKENDS, kernels=('kmeans_pp_init', 'kmeans_lloyd'))
    if tol < 0:
        abs_tol = -1.0
    else:
        abs_tol = float(tol) * _mean_variance(x)
    with torch.no_grad():
        if impl == 'faiss':
            centroids = _faiss_kmeans(x, k, iters, seed)
            assignment = reference._assign(x, centroids)
            return KMeansResult(centroids, assignment, reference._inertia(x, centroids, assignment))
        uniforms = kmeans_uniforms(k, seed).to(x.device)
        if impl == 'cpp':
            idx = torch.ops.psqe.kmeans_pp_init(x, uniforms)
            local = torch.ops.psqe.kmeans_lloyd
        else:
            idx = reference.kmeans_pp_init(x, uniforms)
            local = reference.kmeans_lloyd
        if comm.is_distributed():  # assignment sharded over the ranks, sums all-reduced
            c, a, inertia = sharded_kmeans.lloyd(x, x[idx], iters, abs_tol, local, sequential_shift=impl == 'cpp')
        else:
            c, a, inertia = local(x, x[idx], iters, abs_tol)
    return KMeansResult(c, a, float(inertia))

