r"""Global one-to-one decoding of an alignment: each source entity gets at most one target and vice versa.

Every decoder takes ``x [N, d]`` source and ``y [M, d]`` target features (scores are inner products: pass
L2-normalised rows for cosine) and returns :class:`~psqe_pyg.ops.Matches`
``(row, col, score)``, ``score`` the inner product of each matched pair:

* :func:`greedy`: the exact greedy walk over all pairs by descending score (memory ``O(N k)``);
* :func:`sinkhorn`: Sinkhorn normalisation over sparse top-``k`` candidate lists (memory ``O((N + M) k)``),
  then greedy on the normalised scores; :func:`sinkhorn_scores` gives the normalised candidate lists;
* :func:`assignment`: the exact maximum-weight assignment (dense, up to :data:`MAX_ASSIGNMENT_SIZE`
  entities a side).

Ties are broken by position (lower row, then lower column) in :func:`greedy` and :func:`sinkhorn`; a caller
that scores decoders against gold links should present the candidates in an order that does not follow
the gold links (:func:`psqe_pyg.evaluation.evaluate_alignment` shuffles the targets).
"""
from psqe_pyg.decoding.assignment import MAX_ASSIGNMENT_SIZE, assignment
from psqe_pyg.decoding.greedy import greedy
from psqe_pyg.decoding.sinkhorn import SinkhornScores, sinkhorn, sinkhorn_scores

DECODERS = {'greedy': greedy, 'sinkhorn': sinkhorn, 'assignment': assignment}

__all__ = [
    'DECODERS',
    'MAX_ASSIGNMENT_SIZE',
    'SinkhornScores',
    'assignment',
    'greedy',
    'sinkhorn',
    'sinkhorn_scores',
]
