"""Views of a pair's relation graphs: undirected neighbourhoods per KG and the disjoint union of both KGs."""
import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.utils import coalesce, remove_self_loops, to_undirected


def pair_device(data: HeteroData) -> torch.device:
    """The device of the pair's tensors (the first one found; the CPU when it holds none)."""
    for store in data.stores:
        for value in store.values():
            if isinstance(value, Tensor):
                return value.device
    return torch.device('cpu')


def undirected_edge_index(data: HeteroData, node_type: str) -> Tensor:
    """The KG's relation graph without types, directions, duplicates or self loops: ``[2, E]`` sorted by row."""
    num_nodes = data[node_type].num_nodes
    key = (node_type, 'rel', node_type)
    if key not in data.edge_types:
        return torch.empty(2, 0, dtype=torch.long, device=pair_device(data))
    edge_index = data[key].edge_index
    if edge_index.numel() > 0 and (edge_index.min() < 0 or edge_index.max() >= num_nodes):
        raise ValueError(f"data[{key}].edge_index holds ids outside [0, {num_nodes})")
    edge_index, _ = remove_self_loops(edge_index)
    return coalesce(to_undirected(edge_index, num_nodes=num_nodes), num_nodes=num_nodes)


def csr_neighbors(data: HeteroData, node_type: str) -> tuple[Tensor, Tensor]:
    """``(rowptr [N + 1], col [E])``: the 1-hop undirected neighbours of every entity of the KG."""
    num_nodes = data[node_type].num_nodes
    row, col = undirected_edge_index(data, node_type)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=row.device)
    rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_nodes), 0)
    return rowptr, col


def union_edge_index(data: HeteroData) -> Tensor:
    """Both KGs' undirected relation graphs as one graph: target ids are shifted by ``N_src``: ``[2, E]``."""
    shift = data['src'].num_nodes
    return torch.cat([undirected_edge_index(data, 'src'), undirected_edge_index(data, 'tgt') + shift], dim=1)
