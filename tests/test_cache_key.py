"""A pre_transform's processed-cache key covers every constructor argument."""
from __future__ import annotations

from pathlib import Path

import psqe_pyg
from psqe_pyg.datasets import KGPairFolder
from psqe_pyg.datasets.base import transform_description, transform_key
from psqe_pyg.transforms import PSQE, PSQETransform
from torch_geometric.transforms import Compose, NormalizeFeatures

EXAMPLE = Path(__file__).resolve().parents[1] / 'examples' / 'europe_en_fr'
SMALL = dict(budget=10, num_clusters=2, epochs=2, hidden=8, progress=False)


def test_psqe_transform_is_the_documented_name():
    assert psqe_pyg.PSQETransform is PSQETransform and PSQE is PSQETransform
    assert repr(PSQETransform(batch_size=500)).startswith('PSQETransform(budget=1000, ')
    assert 'batch_size=500' in repr(PSQETransform(batch_size=500))


def test_two_configs_two_cache_files(tmp_path):
    def dataset(batch_size):
        return KGPairFolder(EXAMPLE, name_encoder='hash', processed_dir=tmp_path, log=False,
                            pre_transform=PSQETransform(batch_size=batch_size, **SMALL))

    a, b = dataset(500), dataset(2000)
    assert a.processed_paths != b.processed_paths
    assert sorted(p.name for p in tmp_path.glob('*.pt')) == sorted(
        Path(p).name for p in a.processed_paths + b.processed_paths)
    assert ('src', 'pseudo_seed', 'tgt') in a[0].edge_types
    again = dataset(500)  # the same arguments read the same file
    assert again.processed_paths == a.processed_paths and len(list(tmp_path.glob('*.pt'))) == 2


def test_description_is_recursive_and_covers_foreign_transforms():
    def key(t):
        return transform_key(t)

    assert key(PSQETransform(batch_size=500)) != key(PSQETransform(batch_size=2000))
    assert key(PSQETransform(weights=(0.8, 0.1, 0.1))) != key(PSQETransform(weights=(0.7, 0.2, 0.1)))
    assert key(PSQETransform()) == key(PSQETransform())
    both = Compose([NormalizeFeatures(['x']), PSQETransform(epochs=5)])
    text = transform_description(both)
    assert 'NormalizeFeatures(attrs=[' in text and 'epochs=5' in text
    assert key(both) != key(Compose([NormalizeFeatures(['x']), PSQETransform(epochs=6)]))
    assert key(NormalizeFeatures(['x'])) != key(NormalizeFeatures(['x_name']))

    def f(data):
        return data

    def g(data):
        return data

    assert key(f) != key(g)
