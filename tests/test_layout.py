"""What the layout promises besides the layers: old names keep working for one release (with a warning), one
default per setting, the seed history travels with the pair, datasets use PyG's public hooks only."""
import importlib
import inspect
import logging
import os

import pytest
import torch

from psqe_pyg.datasets import DBP15K, SyntheticKGPair
from psqe_pyg.nn import AlignerConfig, MultiModalAligner, train_aligner
from psqe_pyg.pair import get_history, get_seeds
from psqe_pyg.transforms import (PSQE, ClusterResample, ErrorCorrection, GlobalResample, NeighborhoodExpansion,
                                 VisualPivot)

# old module, old name -> new module, new name
MOVED = [
    ('psqe_pyg.data', 'SAME_AS', 'psqe_pyg.pair', 'SAME_AS'),
    ('psqe_pyg.data', 'read_triples', 'psqe_pyg.readers', 'read_triples'),
    ('psqe_pyg.data.io', 'DataFormatError', 'psqe_pyg.readers.io', 'DataFormatError'),
    ('psqe_pyg.data.images', 'load_image_features', 'psqe_pyg.readers.images', 'load_image_features'),
    ('psqe_pyg.data.layouts', 'read_layout', 'psqe_pyg.readers.layouts', 'read_layout'),
    ('psqe_pyg.data.layouts', 'pair_from_raw', 'psqe_pyg.pair.from_raw', 'pair_from_raw'),
    ('psqe_pyg.data.pair', 'build_pair', 'psqe_pyg.pair.schema', 'build_pair'),
    ('psqe_pyg.data.synthetic', 'SYNTHETIC_DEFAULTS', 'psqe_pyg.pair.generator', 'SYNTHETIC_DEFAULTS'),
    ('psqe_pyg.data.interop', 'from_pyg_dbp15k', 'psqe_pyg.pair.interop', 'from_pyg_dbp15k'),
    ('psqe_pyg.graph', 'union_edge_index', 'psqe_pyg.pair.graph', 'union_edge_index'),
    ('psqe_pyg.transforms.matching', 'greedy_dense_match', 'psqe_pyg.ops', 'greedy_dense_match'),
    ('psqe_pyg.transforms.modalities', 'get_modalities', 'psqe_pyg.pair.modalities', 'get_modalities'),
    ('psqe_pyg.transforms.modalities', 'NODE_TYPES', 'psqe_pyg.pair', 'SIDES'),
    ('psqe_pyg.transforms.seeds', 'SEED_EDGE', 'psqe_pyg.pair', 'PSEUDO_SEED'),
    ('psqe_pyg.transforms', 'SEED_EDGE', 'psqe_pyg.pair', 'PSEUDO_SEED'),
    ('psqe_pyg.evaluation', 'GOLD_EDGE', 'psqe_pyg.pair', 'SAME_AS'),
]


@pytest.mark.parametrize('old, name, new, new_name', MOVED)
def test_moved_names_still_import_with_a_warning(old, name, new, new_name):
    with pytest.warns(DeprecationWarning, match=new.replace('.', r'\.')):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), new_name)


def test_unknown_names_still_raise_attribute_error():
    with pytest.raises(AttributeError, match='no_such_name'):
        importlib.import_module('psqe_pyg.data').no_such_name
    with pytest.raises(AttributeError, match='no_such_name'):
        importlib.import_module('psqe_pyg.evaluation').no_such_name


def test_the_aligner_defaults_are_written_once():
    config = AlignerConfig()
    for fn in (MultiModalAligner.__init__, train_aligner):
        for p in inspect.signature(fn).parameters.values():
            if hasattr(config, p.name):
                assert p.default == getattr(config, p.name), f'{fn.__qualname__}({p.name}=...)'
    # the values the CLI and the README's numbers use
    assert (config.hidden, config.attention, config.steps, config.refine_every) == (96, False, 200, 25)


@pytest.mark.parametrize('stage', [ClusterResample, GlobalResample, ErrorCorrection, NeighborhoodExpansion])
def test_psqe_defaults_are_its_stages_defaults(stage):
    ours = inspect.signature(PSQE.__init__).parameters
    theirs = inspect.signature(stage.__init__).parameters
    shared = set(ours) & set(theirs) - {'self', 'seed', 'progress', 'backend'}
    assert shared and all(ours[n].default == theirs[n].default for n in shared)


def small_psqe() -> PSQE:
    return PSQE(budget=20, num_clusters=3, epochs=2, hidden=8, progress=False)


@pytest.mark.parametrize('make, stages', [
    (small_psqe, ['stage1', 'stage2', 'stage2_correction', 'stage3', 'stage3_correction']),
    (lambda: VisualPivot(20), ['pivot']),
])
def test_the_seed_history_travels_with_the_pair_through_a_processed_cache(tmp_path, monkeypatch, make, stages):
    monkeypatch.delenv('PSQE_PYG_CACHE', raising=False)
    direct = make()(SyntheticKGPair(num_entities=100)[0])
    expected, seconds = get_history(direct)
    assert list(expected) == list(seconds) == stages
    assert all(s >= 0 for s in seconds.values())
    assert torch.equal(expected[stages[-1]].edge_index, get_seeds(direct).edge_index)
    for _ in range(2):  # processed, then read back from the file
        cached = SyntheticKGPair(tmp_path, num_entities=100, pre_transform=make())[0]
        history, cached_seconds = get_history(cached)
        assert list(history) == list(cached_seconds) == stages
        for name in stages:
            for a, b in zip(history[name], expected[name]):
                assert torch.equal(a, b), name


def test_the_transform_keeps_no_state_of_its_last_call():
    transform = VisualPivot(5)
    before = dict(vars(transform))
    transform(SyntheticKGPair(num_entities=50)[0])
    assert vars(transform) == before


def test_datasets_create_nothing_and_print_nothing(tmp_path, capfd, caplog, monkeypatch):
    monkeypatch.delenv('PSQE_PYG_CACHE', raising=False)
    with pytest.raises(FileNotFoundError, match=r'ent_ids_1 .*\n.*ent_ids_2'):
        DBP15K(tmp_path, 'fr_en', name_encoder='hash')
    assert list(tmp_path.iterdir()) == []  # no raw or processed folder made before failing
    with caplog.at_level(logging.INFO, logger='psqe_pyg.datasets'):
        SyntheticKGPair(tmp_path, num_entities=50, pre_transform=VisualPivot(5))
        SyntheticKGPair(tmp_path, num_entities=50, pre_transform=VisualPivot(6))
        SyntheticKGPair(tmp_path, num_entities=50, pre_transform=VisualPivot(6))  # read from the cache
    out, err = capfd.readouterr()
    assert out == err == ''
    assert sum('Processing' in r.getMessage() for r in caplog.records) == 2
    files = sorted(os.listdir(tmp_path / 'synthetic' / 'processed'))
    assert len(files) == 2 and all(f.endswith('.pt') and '_pre-' in f for f in files)  # no shared pre_transform.pt

