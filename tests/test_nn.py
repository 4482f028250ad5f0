import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv
from torch_geometric.utils import add_self_loops

from psqe_pyg.nn import BipartiteCSR, GraphAttention, SeedEncoder, bidirectional_info_nce, receptive_field
from psqe_pyg.nn.seed_encoder import EncoderInputs, InNeighbors, train_seed_encoder


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


def test_graph_attention_follows_a_new_graph():
    # the heads' copies of a graph are kept between calls: a call with another graph must not reuse them
    torch.manual_seed(0)
    conv = GraphAttention(6, 3, heads=2)
    x = torch.randn(20, 6)
    graphs = [BipartiteCSR.build(*torch.randint(0, 20, (2, 60)), 20, 20) for _ in range(2)]
    expected = [GraphAttention(6, 3, heads=2).requires_grad_(False) for _ in graphs]
    for ref in expected:
        ref.load_state_dict(conv.state_dict())
    outs = [conv(x, torch.arange(20), g) for g in graphs + graphs[:1]]
    for out, g, ref in zip(outs, graphs + graphs[:1], expected + expected[:1]):
        assert torch.equal(out, ref(x, torch.arange(20), g))
    assert not torch.allclose(outs[0], outs[1])


def scanned_receptive_field(edge_index, num_nodes, nodes, num_layers):
    """The receptive field by the definition: every layer scans all edges for those into its nodes."""
    layers, dst_nodes = [], nodes
    for _ in range(num_layers):
        keep = torch.isin(edge_index[1], dst_nodes)
        src, dst = edge_index[0, keep], edge_index[1, keep]
        src_nodes = torch.unique(torch.cat([dst_nodes, src]))
        dst_pos = {int(v): i for i, v in enumerate(dst_nodes)}
        layers.append((torch.searchsorted(src_nodes, dst_nodes),
                       BipartiteCSR.build(torch.searchsorted(src_nodes, src),
                                          torch.tensor([dst_pos[int(v)] for v in dst], dtype=torch.long),
                                          src_nodes.numel(), dst_nodes.numel())))
        dst_nodes = src_nodes
    return dst_nodes, layers[::-1]


@pytest.mark.parametrize('nodes', [[3, 17, 18, 150], [150, 3, 0, 199, 42], list(range(0, 200, 7))])
def test_receptive_field_equals_the_scan_of_all_edges(nodes):
    torch.manual_seed(0)
    n = 200
    edge_index = torch.randint(0, n, (2, 700))  # duplicates and no self loops on purpose
    edge_index[:, 5] = edge_index[:, 4]
    nodes = torch.tensor(nodes)
    field = receptive_field(InNeighbors.build(edge_index, n), nodes, num_layers=3)
    input_nodes, layers = scanned_receptive_field(edge_index, n, nodes, 3)
    assert torch.equal(field.input_nodes, input_nodes)
    for (dst_index, graph), (ref_index, ref) in zip(field.layers, layers, strict=True):
        assert torch.equal(dst_index, ref_index)
        for name in BipartiteCSR._fields:
            a, b = getattr(graph, name), getattr(ref, name)
            assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, name


def test_receptive_field_embeds_like_the_full_graph():
    torch.manual_seed(0)
    n = 200
    edge_index, _ = add_self_loops(torch.randint(0, n, (2, 600)), num_nodes=n)
    graph = InNeighbors.build(edge_index, n)
    model = SeedEncoder(12, {'rel': 6}, hidden=8, heads=2)
    primary, views = torch.randn(n, 12), {'rel': torch.randn(n, 6)}
    full = model.embed_all(primary, views, graph)
    nodes = torch.tensor([3, 17, 18, 150])
    inputs = EncoderInputs.gather(graph, nodes, primary, views, num_layers=2)
    part = model(inputs)
    assert inputs.field.input_nodes.numel() < n  # the field really is a subgraph here
    for name in ('gat', 'rel'):
        assert torch.allclose(full[name][nodes], part[name], atol=1e-6)


def test_seed_encoder_training_is_reproducible_with_several_batches():
    torch.manual_seed(0)
    n = 120
    edge_index, _ = add_self_loops(torch.randint(0, n, (2, 400)), num_nodes=n)
    graph = InNeighbors.build(edge_index, n)
    primary, views = torch.randn(n, 10), {'attr': torch.randn(n, 5)}
    pairs = torch.stack([torch.arange(0, 40), torch.arange(60, 100)])

    def train(seed):
        torch.manual_seed(0)
        model = SeedEncoder(10, {'attr': 5}, hidden=8, heads=2)
        history = train_seed_encoder(model, primary, graph, views, pairs, epochs=4, batch_size=16, seed=seed,
                                     progress=False)
        return history, model.embed_all(primary, views, graph)

    (h1, z1), (h2, z2), (h3, _) = train(0), train(0), train(1)
    assert len(h1) == 4 and h1 == h2 and h1 != h3  # batches differ every epoch, and with the seed
    assert all(torch.equal(z1[k], z2[k]) for k in z1)


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


def test_bidirectional_info_nce_rows_add_up_to_the_whole_batch():
    # data-parallel shards: each rank's rows give its part of the loss and of the gradients
    torch.manual_seed(2)
    a, b = torch.randn(9, 4, requires_grad=True), torch.randn(9, 4, requires_grad=True)
    whole = bidirectional_info_nce(a, b, 0.3)
    grads = torch.autograd.grad(whole, (a, b))
    parts = [bidirectional_info_nce(a, b, 0.3, rows=slice(lo, hi)) for lo, hi in ((0, 4), (4, 7), (7, 9))]
    part_grads = [torch.autograd.grad(p, (a, b)) for p in parts]
    assert sum(parts).item() == pytest.approx(whole.item(), rel=1e-6)
    for i in range(2):
        assert torch.allclose(sum(g[i] for g in part_grads), grads[i], atol=1e-6)
    with pytest.raises(ValueError, match='contiguous'):
        bidirectional_info_nce(a, b, rows=slice(0, 9, 2))


def test_seed_encoder_makes_its_tensors_on_the_inputs_device():
    # Under a meta default device, any tensor made without device= lands on meta and the first op that
    # mixes it with the CPU inputs raises; training and embedding must also give the same numbers.
    torch.manual_seed(0)
    n = 60
    edge_index, _ = add_self_loops(torch.randint(0, n, (2, 200)), num_nodes=n)
    primary, views = torch.randn(n, 10), {'attr': torch.randn(n, 5)}
    pairs = torch.stack([torch.arange(0, 20), torch.arange(30, 50)])

    def run():
        with torch.device(primary.device):  # as GlobalResample builds it: the parameters on the inputs' device
            torch.manual_seed(0)
            model = SeedEncoder(10, {'attr': 5}, hidden=8, heads=2)
        graph = InNeighbors.build(edge_index, n)
        history = train_seed_encoder(model, primary, graph, views, pairs, epochs=3, batch_size=8, progress=False)
        return history, model.embed_all(primary, views, graph)

    expected_history, expected = run()
    default = torch.get_default_device()
    torch.set_default_device('meta')
    try:
        history, out = run()
    finally:
        torch.set_default_device(default)
    assert history == expected_history
    for name, z in expected.items():
        assert out[name].device.type == 'cpu' and torch.equal(out[name], z)
