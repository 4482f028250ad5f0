"""Python face of the compiled ``torch.ops.psqe`` kernels, with pure-torch fallbacks.

Every op takes ``backend=``: ``'auto'`` (the compiled kernel for the input's device when the library
``psqe_pyg/_C*.so`` is loaded and registers one, else the pure-torch reference), ``'cpp'`` (the
compiled kernel for the input's device, or an error), ``'cuda'`` (the compiled CUDA kernel: CUDA inputs
only), ``'torch'`` (:mod:`psqe_pyg.ops.reference`, tiled like the kernels) and, for
:func:`sim_topk`/:func:`kmeans`, ``'faiss'``. ``WITH_EXTENSION`` tells whether the library loaded,
``WITH_CUDA`` whether it was built with CUDA kernels. ``PSQE_PYG_DISABLE_EXTENSION=1`` skips loading it.

On CUDA tensors ``'auto'`` picks a CUDA kernel only when ``CUDA_KERNELS_VERIFIED`` (set in
``psqe_pyg/ops/_backend.py`` by the commit that records the kernels' GPU test summary under
``benchmarks/results/``) or ``PSQE_PYG_CUDA_KERNELS=1``; until then it runs the pure-torch path (tiled
``mm`` + ``topk``), and ``greedy_match`` the CPU kernel. Running an unverified CUDA kernel (the
variable, ``'cuda'`` or ``'cpp'``) warns once.
"""
from psqe_pyg.ops._backend import CUDA_KERNELS_VERIFIED
from psqe_pyg.ops._extension import WITH_CUDA, WITH_EXTENSION
from psqe_pyg.ops import reference
from psqe_pyg.ops.dense_match import Matches, greedy_dense_match
from psqe_pyg.ops.kmeans import KMeansResult, kmeans, kmeans_uniforms
from psqe_pyg.ops.matching import greedy_match, tie_break_order, tie_break_rank
from psqe_pyg.ops.sim_topk import MutualNN, SimTopK, mutual_nn, sim_topk

__all__ = [
    'WITH_EXTENSION',
    'WITH_CUDA',
    'CUDA_KERNELS_VERIFIED',
    'sim_topk',
    'mutual_nn',
    'kmeans',
    'kmeans_uniforms',
    'greedy_match',
    'greedy_dense_match',
    'tie_break_order',
    'tie_break_rank',
    'Matches',
    'SimTopK',
    'MutualNN',
    'KMeansResult',
    'reference',
]
