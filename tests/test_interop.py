"""torch_geometric.datasets.DBP15K's pair format -> our pair HeteroData."""
from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from psqe_pyg.pair import SAME_AS, PairValidationError, from_pyg_dbp15k, validate_pair


def pyg_dbp15k_like(n1=7, n2=6, words=3, dim=300, seed=0) -> Data:
    """An object shaped like torch_geometric.datasets.DBP15K()[0]: x = [N, words, 300] zero-padded
    word vectors, edge_index = [2, E] local ids, rel = [E] raw relation ids, *_y = [2, L]."""
    g = torch.Generator().manual_seed(seed)

    def side(n, rel_ids):
        x = torch.randn(n, words, dim, generator=g)
        for i in range(n):  # entity i has 1 + i % words words; the rest is padding
            x[i, 1 + i % words:] = 0
        edge_index = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
        rel = torch.tensor(rel_ids)[torch.arange(n) % len(rel_ids)]
        return x, edge_index, rel

    x1, e1, r1 = side(n1, [1005, 17, 342])
    x2, e2, r2 = side(n2, [88, 2001])
    return Data(x1=x1, edge_index1=e1, rel1=r1, x2=x2, edge_index2=e2, rel2=r2,
                train_y=torch.tensor([[0, 1], [1, 0]]), test_y=torch.tensor([[2, 3, 4], [2, 3, 5]]))


def test_adapter_maps_every_part():
    src = pyg_dbp15k_like()
    before = {k: v.clone() for k, v in src.items()}
    data = validate_pair(from_pyg_dbp15k(src), require_links=True)
    assert all(torch.equal(src[k], v) for k, v in before.items())  # input untouched
    assert (data['src'].num_nodes, data['tgt'].num_nodes) == (7, 6)
    x = src.x1[4]
    expected = x[:2].mean(dim=0)  # entity 4 has 1 + 4 % 3 = 2 words
    assert torch.allclose(data['src'].x_name[4], expected, atol=1e-6)
    assert data['src'].x_name.shape == (7, 300)
    rel = data['src', 'rel', 'src']
    assert rel.num_relations == 3 and rel.relation_info['file_id'] == [17, 342, 1005]
    assert rel.edge_type.tolist() == [2, 0, 1, 2, 0, 1, 2]  # 1005, 17, 342 renumbered by rank
    assert torch.equal(rel.edge_index, src.edge_index1)
    same = data[SAME_AS]
    assert same.edge_index.tolist() == [[0, 1, 2, 3, 4], [1, 0, 2, 3, 5]]
    assert same.train_mask.tolist() == [True, True, False, False, False]
    assert same.test_mask.tolist() == [False, False, True, True, True]
    assert data['src'].uri[:2] == ['0', '1'] and 'x_rel' in data['tgt']


def test_adapter_accepts_2d_features_and_names_missing_keys():
    src = pyg_dbp15k_like(dim=8)
    src.x1 = src.x1[:, 0]
    assert torch.equal(from_pyg_dbp15k(src)['src'].x_name, src.x1)
    del src.test_y
    with pytest.raises(PairValidationError, match="missing 'test_y'"):
        from_pyg_dbp15k(src)
    bad = pyg_dbp15k_like(dim=8)
    bad.train_y = torch.tensor([[0, 1, 2]])  # [1, L]: a single row
    with pytest.raises(PairValidationError, match=r'train_y: expected \[2, L\] links'):
        from_pyg_dbp15k(bad)
