"""Multi-head graph attention (the GAT of Veličković et al., as PyG's ``GATConv`` computes it) whose
neighbourhood aggregation is a sparse matrix product instead of per-edge feature tensors.

PyG's ``GATConv`` materialises ``[E, heads, channels]`` messages; on a CPU those gathers, products and
scatters dominate stage 2 of PSQE. Here the attention coefficients ``[E, heads]`` are computed per edge as
usual, and each head aggregates with a CSR sparse-dense product; the backward pass is one transposed
product for the features and one sampled dense-dense product for the coefficients.
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
        rowptr = torch.zeros(num_dst + 1, dtype=torch.long)
        rowptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_dst), 0)
        t_perm = torch.argsort(src * num_dst + dst)
        t_rowptr = torch.zeros(num_src + 1, dtype=torch.long)
        t_rowptr[1:] = torch.cumsum(torch.bincount(src, minlength=num_src), 0)
        return BipartiteCSR(src, dst, rowptr, t_rowptr, dst[t_perm], t_perm, num_src, num_dst)


def _csr(rowptr: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(rowptr, col, values, size, check_invariants=False)


class _AttentionAggregate(torch.autograd.Function):
    """``out[i] = sum_{e: dst_e = i} alpha[e] * x[src_e]`` for one head: ``[num_dst, C]``."""

    @staticmethod
    def forward(ctx, alpha: Tensor, x: Tensor, graph: BipartiteCSR) -> Tensor:
        ctx.save_for_backward(alpha, x)
        ctx.graph = graph
        return _csr(graph.rowptr, graph.src, alpha, (graph.num_dst, graph.num_src)) @ x

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        alpha, x = ctx.saved_tensors
        g: BipartiteCSR = ctx.graph
        grad_alpha = grad_x = None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[0]:  # <grad_out[dst_e], x[src_e]> for every edge
            pattern = _csr(g.rowptr, g.src, torch.zeros_like(alpha), (g.num_dst, g.num_src))
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', UserWarning)
                grad_alpha = torch.sparse.sampled_addmm(pattern, grad_out, x.t(), beta=0.0).values()
        if ctx.needs_input_grad[1]:
            grad_x = _csr(g.t_rowptr, g.t_col, alpha[g.t_perm], (g.num_src, g.num_dst)) @ grad_out
        return grad_alpha, grad_x, None


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
        # index_select, not advanced indexing: its backward (index_add) sums in a fixed order on CPU, where
        # indexing's backward (index_put with accumulate) does not, and seeds must be reproducible.
        logits = F.leaky_relu(a_src.index_select(0, graph.src) + a_dst.index_select(0, graph.dst),
                              self.negative_slope)
        alpha = softmax(logits, graph.dst, num_nodes=graph.num_dst)  # [E, heads]
        out = [_AttentionAggregate.apply(alpha[:, i].contiguous(), x @ weight[i].t(), graph)
               for i in range(heads)]  # each head's features [num_src, C], contiguous
        return torch.cat(out, dim=-1) + self.bias

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.lin.in_features}, {self.out_channels}, '
                f'heads={self.heads})')
