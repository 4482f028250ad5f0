"""The six shared sets converted to the OpenEA layout load like their registered loaders: the same
entities, triples, links in the same order, split, names and attribute bags."""
from __future__ import annotations

from collections import Counter

import pytest
import torch
from convert import SETS, convert

from psqe_pyg.datasets import load_dataset
from psqe_pyg.pair import REL, SAME_AS, SIDES

pytestmark = [pytest.mark.data, pytest.mark.slow]


def by_uri(data, side):
    return {u: i for i, u in enumerate(data[side].uri)}


@pytest.mark.parametrize('spec', list(SETS))
def test_converted_folder_loads_like_the_registered_loader(shared_data, tmp_path, spec):
    folder = convert(shared_data, spec, tmp_path / spec.replace('/', '_'))
    reg = load_dataset(spec, shared_data, name_encoder='hash', log=False)
    conv = load_dataset(str(folder), name_encoder='hash', log=False)
    assert conv.meta['layout'] == 'openea'
    for side in SIDES:
        r, c = reg[side], conv[side]
        assert r.num_nodes == c.num_nodes and set(r.uri) == set(c.uri)
        assert dict(zip(r.uri, r.name)) == dict(zip(c.uri, c.name))
        ei_r, ei_c = reg[REL[side]].edge_index, conv[REL[side]].edge_index
        assert Counter(zip(*(map(r.uri.__getitem__, row) for row in ei_r.tolist()))) == \
            Counter(zip(*(map(c.uri.__getitem__, row) for row in ei_c.tolist())))
        assert reg[REL[side]].num_relations == conv[REL[side]].num_relations
        assert ('x_attr' in r) == ('x_attr' in c)
        if 'x_attr' in r:
            order = torch.tensor([by_uri(conv, side)[u] for u in r.uri])
            assert torch.equal(r.x_attr.to_dense(), c.x_attr.to_dense()[order])
    links = []
    for data in (reg, conv):
        s, t = data[SAME_AS].edge_index.tolist()
        links.append([(data['src'].uri[a], data['tgt'].uri[b]) for a, b in zip(s, t)])
    assert links[0] == links[1]
    assert torch.equal(reg[SAME_AS].train_mask, conv[SAME_AS].train_mask)
    assert torch.equal(reg[SAME_AS].test_mask, conv[SAME_AS].test_mask)
