import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv
from torch_geometric.utils import add_self_loops

from psqe_pyg.nn import BipartiteCSR, GraphAttention, SeedEncoder, bidirectional_info_nce, receptive_field


@pytest.mark.parametrize('num_nodes,num_edges,heads', [(30, 100, 2), (7, 5, 1), (50, 400, 3)])
def test_graph_attention_equals_pyg_gatconv(num_nodes, num_edges, heads):
    torch.manual_seed(num_nodes)
    edge_index, _ = add_self_loops(torch.randint(0, num_nodes, (2, num_edges)), num_nodes=num_nodes)
    ref = GATConv(8, 4, heads=heads, add_self_loops=False)
    mine = GraphAttention(8, 4, heads)
    with torch.no_grad():
        for name in ('att_src', 'att_dst', 'bias'):
            getattr(mine, name).copy_(getattr(ref, name).view_as(getattr(mine, name)))
        mine.lin.weight.copy_(ref.lin.weight)
    x_ref = torch.randn(num_nodes, 8, requires_grad=True)
    x_mine = x_ref.detach().clone().requires_grad_()
    graph = BipartiteCSR.build(edge_index[0], edge_index[1], num_nodes, num_nodes)
    out_ref, out_mine = ref(x_ref, edge_index), mine(x_mine, torch.arange(num_nodes), graph)
    assert torch.allclose(out_ref, out_mine, atol=1e-5)
    weight = torch.randn_like(out_ref)
    (out_ref * weight).sum().backward()
    (out_mine * weight).sum().backward()
    assert torch.allclose(x_ref.grad, x_mine.grad, atol=1e-4)
    assert torch.allclose(ref.att_src.grad.view(-1), mine.att_src.grad.view(-1), atol=1e-4)
    assert torch.allclose(ref.lin.weight.grad, mine.lin.weight.grad, atol=1e-4)


def test_receptive_field_embeds_like_the_full_graph():
    torch.manual_seed(0)
    n = 200
    edge_index, _ = add_self_loops(torch.randint(0, n, (2, 600)), num_nodes=n)
    model = SeedEncoder(12, {'rel': 6}, hidden=8, heads=2)
    primary, views = torch.randn(n, 12), {'rel': torch.randn(n, 6)}
    full = model.embed_all(primary, views, edge_index, n)
    nodes = torch.tensor([3, 17, 18, 150])
    field = receptive_field(edge_index, n, nodes, num_layers=2)
    part = model(primary, views, nodes, field)
    assert field.input_nodes.numel() < n  # the field really is a subgraph here
    for name in ('gat', 'rel'):
        assert torch.allclose(full[name][nodes], part[name], atol=1e-6)


def test_bidirectional_info_nce_matches_its_definition():
    torch.manual_seed(1)
    a, b, t = torch.randn(5, 4), torch.randn(5, 4), 0.5
    na, nb = F.normalize(a, dim=-1), F.normalize(b, dim=-1)

    def side(x, y):
        total = 0.0
        for i in range(5):
            pos = math.exp(float(x[i] @ y[i]) / t)
            neg = sum(math.exp(float(x[i] @ y[j]) / t) for j in range(5) if j != i)
            neg += sum(math.exp(float(x[i] @ x[j]) / t) for j in range(5) if j != i)
            total -= math.log(pos / (pos + neg))
        return total / 5

    expected = 0.5 * (side(na, nb) + side(nb, na))
    assert bidirectional_info_nce(a, b, t).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r'\[B, d\]'):
        bidirectional_info_nce(a, b[:3])
