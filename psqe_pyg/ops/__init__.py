"""Python face of the compiled ``torch.ops.psqe`` kernels, with pure-torch fallbacks.

Every op takes ``backend=``: ``'auto'`` (the compiled kernel for the input's device when the library
``psqe_pyg/_C*.so`` is loaded and registers one, else the pure-torch reference), ``'cpp'`` (the
compiled kernel, or an error), ``'torch'`` (:mod:`psqe_pyg.ops.reference`, tiled like the kernels) and,
for :func:`sim_topk`/:func:`kmeans`, ``'faiss'``. ``WITH_EXTENSION`` tells whether the library loaded,
``WITH_CUDA`` whether it was built with CUDA kernels. ``PSQE_PYG_DISABLE_EXTENSION=1`` skips loading it.
"""
from psqe_pyg.ops._extension import WITH_CUDA, WITH_EXTENSION
from psqe_pyg.ops import reference
from psqe_pyg.ops.kmeans import KMeansResult, kmeans, kmeans_uniforms
from psqe_pyg.ops.matching import greedy_match
from psqe_pyg.ops.sim_topk import MutualNN, SimTopK, mutual_nn, sim_topk

__all__ = [
    'WITH_EXTENSION',
    'WITH_CUDA',
    'sim_topk',
    'mutual_nn',
    'kmeans',
    'kmeans_uniforms',
    'greedy_match',
    'SimTopK',
    'MutualNN',
    'KMeansResult',
    'reference',
]
