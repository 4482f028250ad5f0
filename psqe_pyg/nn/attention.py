"""Multi-head graph attention (the GAT of Veličković et al., as PyG's ``GATConv`` computes it) whose
neighbourhood aggregation is a sparse matrix product instead of per-edge feature tensors.

PyG's ``GATConv`` materialises ``[E, heads, channels]`` messages; on a CPU those gathers, products and
scatters dominate stage 2 of PSQE. Here the attention coefficients ``[E, heads]`` are computed per edge as
usual, and all heads aggregate in one CSR sparse-dense product over the heads' copies of the graph
(:meth:`BipartiteCSR.per_head`); the backward pass is one transposed product for the features and one
sampled dense-dense product for the coefficients.
"""
import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.utils import softmax


class BipartiteCSR(NamedTuple):
    """Edges ``src -> dst`` from ``num_src`` source to ``num_dst`` destination nodes, sorted by destination.

    ``rowptr [num_dst + 1]``/``col [E]`` index the sources of every destination; ``t_rowptr``/``t_col``/
    ``t_perm`` are the transpose (``t_perm`` maps its order back to edge ids).
    """
    src: Tensor
    dst: Tensor
    rowptr: Tensor
    t_rowptr: Tensor
    t_col: Tensor
    t_perm: Tensor
    num_src: int
    num_dst: int

    @staticmethod
    def build(src: Tensor, dst: Tensor, num_src: int, num_dst: int) -> 'BipartiteCSR':
        order = torch.argsort(dst * num_src + src)
        src, dst = src[order], dst[order]
        rowptr = torch.zeros(num_dst + 1, dtype=torch.long, device=dst.device)
        rowptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_dst), 0)
        t_perm = torch.argsort(src * num_dst + dst)
        t_rowptr = torch.zeros(num_src + 1, dtype=torch.long, device=src.device)
        t_rowptr[1:] = torch.cumsum(torch.bincount(src, minlength=num_src), 0)
        return BipartiteCSR(src, dst, rowptr, t_rowptr, dst[t_perm], t_perm, num_src, num_dst)

    def to(self, device: torch.device | str) -> 'BipartiteCSR':
        return BipartiteCSR(*(t.to(device) for t in self[:6]), self.num_src, self.num_dst)

    def per_head(self, heads: int) -> tuple['BipartiteCSR', Tensor]:
        """``heads`` disjoint copies of the graph, interleaved node-major: edge ``s -> d`` of head ``h`` runs
        from ``s * heads + h`` to ``d * heads + h``, so ``[num_src, heads * C]`` features viewed as
        ``[num_src * heads, C]`` aggregate every head in one product, and the result viewed back as
        ``[num_dst, heads * C]`` is the heads concatenated. Every row keeps its edges in this graph's order.

        Returns the copies and ``take [E * heads]``: where each of their edges is in ``[E, heads]`` row-major
        per-edge values (``values.view(-1)[take]`` are the copies' edge values)."""
        e_h = torch.arange(self.src.numel() * heads, device=self.src.device)  # e * heads + h, row-major
        edge, head = e_h // heads, e_h % heads
        # a stable sort by (dst, head) keeps each destination's edges in their order within every head
        take = torch.sort(self.dst[edge] * heads + head, stable=True).indices
        src, dst = self.src[edge[take]] * heads + head[take], self.dst[edge[take]] * heads + head[take]
        return BipartiteCSR.build(src, dst, self.num_src * heads, self.num_dst * heads), take


def csr_tensor(rowptr: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(rowptr, col, values, size, device=values.device, check_invariants=False)


class _AttentionAggregate(torch.autograd.Function):
    """``out[i] = sum_{e: dst_e = i} alpha[e] * x[src_e]``: ``[num_dst, C]``."""

    @staticmethod
    def forward(ctx, alpha: Tensor, x: Tensor, graph: BipartiteCSR) -> Tensor:
        ctx.save_for_backward(alpha, x)
        ctx.graph = graph
        return csr_tensor(graph.rowptr, graph.src, alpha, (graph.num_dst, graph.num_src)) @ x

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        alpha, x = ctx.saved_tensors
        g: BipartiteCSR = ctx.graph
        grad_alpha = grad_x = None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[0]:  # <grad_out[dst_e], x[src_e]> for every edge
            pattern = csr_tensor(g.rowptr, g.src, torch.zeros_like(alpha), (g.num_dst, g.num_src))
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', UserWarning)
                grad_alpha = torch.sparse.sampled_addmm(pattern, grad_out, x.t(), beta=0.0).values()
        if ctx.needs_input_grad[1]:
            grad_x = csr_tensor(g.t_rowptr, g.t_col, alpha[g.t_perm], (g.num_src, g.num_dst)) @ grad_out
        return grad_alpha, grad_x, None


def _attention(a_src: Tensor, a_dst: Tensor, graph: BipartiteCSR, negative_slope: float) -> Tensor:
    """GAT's coefficients ``[E, heads]`` from the logit parts of the sources ``[num_src, heads]`` and of the
    destinations ``[num_dst, heads]``: a softmax over each destination's incoming edges."""
    # index_select, not advanced indexing: its backward (index_add) sums in a fixed order on CPU, where
    # indexing's backward (index_put with accumulate) does not, and seeds must be reproducible.
    logits = F.leaky_relu(a_src.index_select(0, graph.src) + a_dst.index_select(0, graph.dst), negative_slope)
    return softmax(logits, graph.dst, num_nodes=graph.num_dst)


class GraphAttention(nn.Module):
    r"""Multi-head graph attention from source to destination nodes, the heads concatenated:
    ``[num_dst, heads * out_channels]``.

    Same parameters and function as ``torch_geometric.nn.GATConv(in, out, heads, add_self_loops=False)``
    (self loops, if wanted, belong in the graph) without attention dropout.

    Args:
        in_channels: input features. out_channels: features per head. heads: attention heads.
        negative_slope: LeakyReLU slope of the attention logits.
    """
    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.heads, self.out_channels, self.negative_slope = heads, out_channels, negative_slope
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.zeros(heads * out_channels))
        self._per_head: tuple[Tensor, BipartiteCSR, Tensor] | None = None  # (graph.rowptr, its per_head(heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, dst_index: Tensor, graph: BipartiteCSR) -> Tensor:
        """Args: ``x [num_src, in]`` source features; ``dst_index [num_dst]`` the destination nodes'
        rows in ``x``; ``graph`` the edges between them."""
        heads, channels = self.heads, self.out_channels
        weight = self.lin.weight.view(heads, channels, -1)
        # <att, W x> = <W^T att, x>: the logit parts come from x directly, without [N, heads, C] products.
        a_src = x @ torch.einsum('hci,hc->ih', weight, self.att_src[0])  # [num_src, heads]
        a_dst = x.index_select(0, dst_index) @ torch.einsum('hci,hc->ih', weight, self.att_dst[0])
        alpha = _attention(a_src, a_dst, graph, self.negative_slope)
        copies, take = self._heads_of(graph)
        # [num_src, heads * C]: its [num_src * heads, C] view holds head h of node s in row s * heads + h
        h = x @ weight.view(heads * channels, -1).t()
        out = _AttentionAggregate.apply(alpha.view(-1).index_select(0, take), h.view(-1, channels), copies)
        return out.view(graph.num_dst, heads * channels) + self.bias

    def _heads_of(self, graph: BipartiteCSR) -> tuple[BipartiteCSR, Tensor]:
        """``graph.per_head(heads)``, kept for the next call with the same graph (training reuses a batch's
        receptive field every epoch)."""
        if self._per_head is None or self._per_head[0] is not graph.rowptr:
            self._per_head = (graph.rowptr, *graph.per_head(self.heads))
        return self._per_head[1], self._per_head[2]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.lin.in_features}, {self.out_channels}, '
                f'heads={self.heads})')


class NeighborAttention(nn.Module):
    r"""Graph attention without a feature transform: ``out_i = mean_h sum_j alpha^h_ij x_j``, with GAT's
    coefficients :math:`\alpha^h_{ij} = \mathrm{softmax}_j(\mathrm{LeakyReLU}(a_h^\top x_i + b_h^\top x_j))`:
    ``[num_dst, channels]``.

    The layer of the aligner's structure encoder (in the spirit of RREA and Dual-AMN, which drop the weight
    matrix too): it only learns whom to listen to, so stacking it over frozen name embeddings mixes in the
    neighbours' names without a dense product over every entity, and without forgetting the names.

    Args:
        channels: feature size (in = out). heads: attention heads, averaged.
        negative_slope: LeakyReLU slope of the attention logits.
    """
    def __init__(self, channels: int, heads: int = 1, negative_slope: float = 0.2) -> None:
        super().__init__()
        self.channels, self.heads, self.negative_slope = channels, heads, negative_slope
        self.att_src = nn.Parameter(torch.empty(channels, heads))
        self.att_dst = nn.Parameter(torch.empty(channels, heads))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)

    def forward(self, x: Tensor, dst_index: Tensor, graph: BipartiteCSR) -> Tensor:
        """Args: ``x [num_src, channels]``; ``dst_index [num_dst]`` the destinations' rows in ``x``;
        ``graph`` the edges between them."""
        alpha = _attention(x @ self.att_src, x.index_select(0, dst_index) @ self.att_dst, graph,
                           self.negative_slope)
        return _AttentionAggregate.apply(alpha.mean(dim=1), x, graph)  # the heads' mean in one product

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.channels}, heads={self.heads})'
