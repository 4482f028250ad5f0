import json

import pytest

from psqe_pyg.cli import main

MANIFEST = {  # ../shared/data/MANIFEST.md
    'DBP15K/zh_en': ((19388, 19572), (70414, 95142), (1701, 1323), 15000),
    'SRPRS/dbp_wd': ((15000, 15000), (38421, 40159), (253, 144), 15000),
}


def run_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_info_json_on_the_synthetic_default(capsys):
    out = run_json(capsys, 'info', '--json', '--num-entities', '300')
    assert out['dataset'] == 'synthetic'
    assert out['src']['entities'] >= 300 and out['tgt']['entities'] >= 300
    assert out['links']['total'] == 300
    assert {'name', 'img', 'attr', 'rel'} <= set(out['src']['modalities'])


@pytest.mark.data
@pytest.mark.parametrize('spec', sorted(MANIFEST))
def test_info_json_prints_the_manifest_counts(capsys, shared_data, spec):
    out = run_json(capsys, 'info', '--json', '--dataset', spec, '--root', str(shared_data), '--name-encoder',
                   'hash')
    entities, triples, relations, links = MANIFEST[spec]
    assert (out['src']['entities'], out['tgt']['entities']) == entities
    assert (out['src']['relation_triples'], out['tgt']['relation_triples']) == triples
    assert (out['src']['relations'], out['tgt']['relations']) == relations
    assert out['links']['total'] == links


def test_seeds_writes_report_and_plot(tmp_path, capsys):
    report, plot = tmp_path / 'seeds.json', tmp_path / 'seeds.png'
    assert main(['seeds', '--num-entities', '300', '--budget', '60', '--epochs', '3', '--quiet', '--json',
                 str(report), '--plot', str(plot)]) == 0
    out = json.loads(report.read_text())
    stages = out['stages']
    assert list(stages) == ['stage1', 'stage2', 'stage2_correction', 'stage3', 'stage3_correction']
    for row in stages.values():
        assert 0.0 <= row['precision'] <= 1.0
        assert row['coverage_degree']['tv_distance'] >= 0.0
    assert stages['stage1']['seeds'] <= 60
    assert 'coverage_cluster' in stages['stage1']
    assert out['baseline']['method'] == 'pivot' and out['baseline']['stages']['pivot']['seeds'] == 60
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:4] == b'\x89PNG'
    assert 'stage3_correction' in capsys.readouterr().out


def test_seeds_pivot(tmp_path):
    report = tmp_path / 'pivot.json'
    assert main(['seeds', '--method', 'pivot', '--num-entities', '300', '--budget', '50', '--json',
                 str(report)]) == 0
    stages = json.loads(report.read_text())['stages']
    assert list(stages) == ['pivot'] and stages['pivot']['seeds'] == 50


def test_bad_dataset_is_a_clear_error(caplog):
    assert main(['info', '--dataset', 'DBP15K/xx_yy', '--root', '.']) == 2
    assert 'valid:' in caplog.text and 'DBP15K/zh_en' in caplog.text


@pytest.mark.parametrize('seeds', ['pivot', 'psqe'])
def test_align_prints_a_summary_and_writes_json(tmp_path, capsys, seeds):
    path = tmp_path / 'align.json'
    assert main(['align', '--num-entities', '300', '--seeds', seeds, '--budget', '60', '--psqe-epochs', '3',
                 '--steps', '20', '--refine-every', '10', '--hidden', '16', '--quiet', '--device', 'cpu',
                 '--json', str(path)]) == 0
    out = json.loads(path.read_text())
    assert out['dataset'] == 'synthetic' and out['seeds']['method'] == seeds
    assert out['num_links'] == 210  # the synthetic pair's 70% test split of its 300 links
    for view in ('cosine', 'csls'):
        for direction in ('src->tgt', 'tgt->src', 'mean'):
            assert 0.0 <= out[view][direction]['hits@1'] <= out[view][direction]['hits@10'] <= 1.0
            assert 0.0 < out[view][direction]['mrr'] <= 1.0
    assert 0.0 <= out['one_to_one_hits@1'] <= 1.0
    assert sum(g['count'] for g in out['by_degree']) == 210
    training = out['training']
    assert training['config']['steps'] == 20 and training['device'] == 'cpu'
    assert len(training['loss']) == 20 and len(training['rounds']) == 1  # before step 10
    assert 0.0 <= training['seed_precision'] <= 1.0
    printed = capsys.readouterr().out
    assert 'Hits@1' in printed and 'one-to-one' in printed and f'seeds ({seeds})' in printed
