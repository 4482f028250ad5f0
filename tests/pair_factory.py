"""Small random HeteroData pairs for the transform tests (independent of the dataset module)."""
import torch
from torch_geometric.data import HeteroData


def random_pair(n_src: int = 40, n_tgt: int = 36, *, seed: int = 0, modalities=('x_name', 'x_attr', 'x_rel'),
                dims: dict | None = None, avg_degree: float = 3.0, img_missing: float = 0.3,
                integer: bool = False) -> HeteroData:
    """Two KGs whose first ``min(n_src, n_tgt)`` entities correspond (noisy copies of shared latents).

    ``integer`` makes every feature a small integer, so that scores tie exactly.
    """
    gen = torch.Generator().manual_seed(seed)
    dims = {'x_img': 12, 'x_name': 16, 'x_attr': 10, 'x_rel': 8, **(dims or {})}
    n = min(n_src, n_tgt)
    data = HeteroData()
    for nt, size in (('src', n_src), ('tgt', n_tgt)):
        data[nt].num_nodes = size
    for name in modalities:
        d = dims[name]
        if integer:
            base = torch.randint(0, 3, (max(n_src, n_tgt), d), generator=gen).float()
            data['src'][name] = base[:n_src].clone()
            data['tgt'][name] = base[:n_tgt].clone()
            data['tgt'][name][n:] = torch.randint(0, 3, (n_tgt - n, d), generator=gen).float()
            continue
        latent = torch.randn(max(n_src, n_tgt), d, generator=gen)
        for nt, size in (('src', n_src), ('tgt', n_tgt)):
            x = latent[:size] + 0.5 * torch.randn(size, d, generator=gen)
            if nt == 'tgt':
                x[n:] = torch.randn(size - n, d, generator=gen)
            data[nt][name] = x
    if 'x_img' in modalities:
        for nt, size in (('src', n_src), ('tgt', n_tgt)):
            mask = torch.rand(size, generator=gen) >= img_missing
            data[nt].x_img = data[nt].x_img * mask.unsqueeze(1)
            data[nt].img_mask = mask
    latent_edges = torch.randint(0, n, (2, int(avg_degree * n / 2)), generator=gen)
    for nt, size in (('src', n_src), ('tgt', n_tgt)):
        extra = torch.randint(0, size, (2, int(avg_degree * (size - n) / 2) + 1), generator=gen)
        keep = torch.rand(latent_edges.size(1), generator=gen) > 0.2
        edge_index = torch.cat([latent_edges[:, keep], extra], dim=1)
        data[nt, 'rel', nt].edge_index = edge_index
        data[nt, 'rel', nt].edge_type = torch.randint(0, 4, (edge_index.size(1), ), generator=gen)
    gold = torch.arange(n)
    data['src', 'same_as', 'tgt'].edge_index = torch.stack([gold, gold])
    split = torch.rand(n, generator=gen) < 0.3
    data['src', 'same_as', 'tgt'].train_mask = split
    data['src', 'same_as', 'tgt'].test_mask = ~split
    return data
