import torch

from pair_factory import random_pair
from psqe_pyg.report import plot_seed_report, seed_report
from psqe_pyg.transforms import Seeds


def test_seed_report_with_tied_degrees_has_empty_buckets(tmp_path):
    data = random_pair(20, 20, seed=0)
    ring = torch.stack([torch.arange(20), (torch.arange(20) + 1) % 20])  # every entity has degree 2...
    for nt in ('src', 'tgt'):
        data[nt, 'rel', nt].edge_index = torch.cat([ring, torch.tensor([[0], [10]])], dim=1)  # ...but two
        data[nt, 'rel', nt].edge_type = torch.zeros(21, dtype=torch.long)
    seeds = Seeds.of(torch.arange(5), torch.arange(5), torch.ones(5), stage=1)
    report = seed_report(data, {'stage1': seeds}, num_buckets=5)
    assert [None, None] in report['degree_buckets']
    assert report['degree_buckets'][0] == [2, 2] and report['degree_buckets'][-1] == [3, 3]
    row = report['stages']['stage1']
    assert row['precision'] == 1.0 and row['seeds'] == 5
    assert abs(sum(row['coverage_degree']['seed_share']) - 1.0) < 1e-6
    plot_seed_report([{'method': 'psqe', **report}], str(tmp_path / 'p.png'))
    assert (tmp_path / 'p.png').read_bytes()[:4] == b'\x89PNG'
