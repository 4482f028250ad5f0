import json
import shutil
from pathlib import Path

import pytest

from psqe_pyg.cli import main

MANIFEST = {  # ../shared/data/MANIFEST.md
    'DBP15K/zh_en': ((19388, 19572), (70414, 95142), (1701, 1323), 15000),
    'SRPRS/dbp_wd': ((15000, 15000), (38421, 40159), (253, 144), 15000),
}

EXAMPLE = Path(__file__).resolve().parent.parent / 'examples' / 'europe_en_fr'


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


def test_align_late_fuses_the_propagated_features(tmp_path):
    path = tmp_path / 'align.json'
    assert main(['align', *SMALL_ALIGN, '--seeds', 'pivot', '--propagated', '1', '--json', str(path)]) == 0
    training = json.loads(path.read_text())['training']
    assert training['config']['propagated'] == 1.0 and training['loss'] == []  # training-free


SMALL_ALIGN = ['--num-entities', '300', '--budget', '60', '--psqe-epochs', '3', '--steps', '20', '--refine-every',
               '10', '--hidden', '16', '--quiet', '--device', 'cpu']


def read_tsv(path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding='utf-8').splitlines()
    return lines[0].split('\t'), [line.split('\t') for line in lines[1:]]


def test_align_writes_the_alignment_file_json_and_plot(tmp_path, capsys):
    from psqe_pyg.datasets import SyntheticKGPair
    out, plot, report = tmp_path / 'sub' / 'alignment.tsv', tmp_path / 'scores.png', tmp_path / 'align.json'
    assert main(['align', *SMALL_ALIGN, '--output', str(out), '--plot', str(plot), '--json', str(report)]) == 0
    header, rows = read_tsv(out)
    assert header == ['src', 'tgt', 'score', 'mutual']
    data = SyntheticKGPair(num_entities=300)[0]
    assert {r[0] for r in rows} <= set(data['src'].uri) and {r[1] for r in rows} <= set(data['tgt'].uri)
    assert len({r[0] for r in rows}) == len({r[1] for r in rows}) == len(rows)  # one-to-one
    scores = [float(r[2]) for r in rows]
    assert scores == sorted(scores, reverse=True)  # best first
    assert {r[3] for r in rows} <= {'true', 'false'}
    result = json.loads(report.read_text())
    a = result['alignment']
    assert a['written'] == a['accepted'] == len(rows) < a['decoded'] == data['src'].num_nodes
    assert min(scores) >= a['threshold'] and a['output'] == str(out) and not a['keep_all']
    q = a['quality']['accepted']
    assert q['pairs'] == len(rows) and 0.0 < q['precision'] <= 1.0 and q['links'] == result['num_links']
    assert plot.read_bytes()[:4] == b'\x89PNG' and plot.stat().st_size > 1000
    printed = capsys.readouterr().out
    assert f"{len(rows)} of {a['decoded']} one-to-one pairs" in printed and 'precision' in printed


def test_align_keep_all_writes_every_source(tmp_path):
    out, report = tmp_path / 'all.tsv', tmp_path / 'all.json'
    assert main(['align', *SMALL_ALIGN, '--keep-all', '--output', str(out), '--json', str(report)]) == 0
    _, rows = read_tsv(out)
    a = json.loads(report.read_text())['alignment']
    assert len(rows) == a['written'] == a['decoded'] == 330  # 300 shared + 30 without counterpart, per side
    assert len({r[0] for r in rows}) == 330 and a['keep_all'] and a['threshold'] is not None
    assert any(float(r[2]) < a['threshold'] for r in rows)


def _patch_load(monkeypatch, edit):
    """Stands for a user's own pair: the synthetic pair as loaded by the CLI, then edited."""
    from psqe_pyg import cli
    load = cli._load
    monkeypatch.setattr(cli, '_load', lambda args: edit(load(args)))


def test_align_without_gold_links_runs_end_to_end(tmp_path, capsys, monkeypatch):
    def drop_gold(data):
        del data['src', 'same_as', 'tgt']
        return data
    _patch_load(monkeypatch, drop_gold)
    out, report = tmp_path / 'own.tsv', tmp_path / 'own.json'
    assert main(['align', *SMALL_ALIGN, '--output', str(out), '--json', str(report)]) == 0
    _, rows = read_tsv(out)
    result = json.loads(report.read_text())
    assert len(rows) == result['alignment']['written'] > 0
    assert 'cosine' not in result and 'quality' not in result['alignment']
    printed = capsys.readouterr().out
    assert printed.count('no gold links') == 1 and 'Hits@1' not in printed and 'precision' not in printed


def test_align_on_a_user_folder_without_links_writes_the_alignment(tmp_path, capsys):
    """A user's own pair: the example folder (OpenEA layout) without its ent_links file."""
    folder = tmp_path / 'own_pair'
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns('ent_links', 'processed'))
    out = tmp_path / 'own.tsv'
    assert main(['align', '--dataset', str(folder), '--budget', '10', '--psqe-epochs', '3', '--steps', '20',
                 '--quiet', '--device', 'cpu', '--output', str(out)]) == 0
    header, rows = read_tsv(out)
    assert header == ['src', 'tgt', 'score', 'mutual'] and rows
    src_uris = set((EXAMPLE / 'rel_triples_1').read_text(encoding='utf-8').split())
    assert all(row[0] in src_uris for row in rows)  # entities as written in the input files
    printed = capsys.readouterr().out
    assert 'Hits@1' not in printed and 'precision' not in printed


def test_align_with_an_empty_test_split_says_there_is_nothing_to_evaluate(tmp_path, capsys, monkeypatch):
    def empty_test(data):
        store = data['src', 'same_as', 'tgt']
        store.test_mask = store.test_mask & False
        return data
    _patch_load(monkeypatch, empty_test)
    assert main(['align', *SMALL_ALIGN]) == 0
    printed = capsys.readouterr().out
    assert 'no test links: nothing to evaluate' in printed and 'Hits@1' not in printed and '0.0' not in printed


@pytest.mark.parametrize('argv, option', [
    (['--budget', '0'], '--budget'),
    (['--budget', '-5'], '--budget'),
    (['--steps', '0'], '--steps'),
    (['--refine-every', '-1'], '--refine-every'),
    (['--hidden', '0'], '--hidden'),
    (['--propagated', '1.5'], '--propagated'),
    (['--propagated', 'half'], '--propagated'),
    (['--psqe-epochs', '0'], '--psqe-epochs'),
    (['--num-entities', '-3'], '--num-entities'),
    (['--seed', 'x'], '--seed'),
    (['--device', 'nonsense'], '--device'),
    (['--dataset', 'DBP15K/zh_en'], '--root'),
    (['--dataset', 'DBP15K/zh_en', '--root', '/nonexistent/folder'], '--root'),
    (['--output', '{file}/alignment.tsv'], '--output'),
    (['--output', '{tmp}'], '--output'),
    (['--plot', '{file}/scores.png'], '--plot'),
])
def test_align_bad_arguments_fail_before_any_work(tmp_path, capsys, caplog, monkeypatch, argv, option):
    from psqe_pyg import cli

    def no_work(args):
        raise AssertionError('the pair was loaded before the arguments were checked')
    monkeypatch.setattr(cli, '_load', no_work)
    monkeypatch.delenv('PSQE_PYG_DATA', raising=False)
    (tmp_path / 'a_file').write_text('x')
    argv = [a.format(file=tmp_path / 'a_file', tmp=tmp_path) for a in argv]
    assert main(['align', *argv]) == 2
    message = capsys.readouterr().err + caplog.text
    assert option in message and 'root=' not in message and 'Traceback' not in message


def test_align_device_cuda_without_cuda_fails_at_once(caplog, monkeypatch):
    import torch

    from psqe_pyg import cli
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(cli, '_load', lambda args: pytest.fail('the pair was loaded before --device was checked'))
    for device in ('cuda', 'cuda:1'):
        assert main(['align', '--device', device]) == 2
        assert f'--device {device}: CUDA is not available' in caplog.text
    if torch.cuda.device_count() == 0:
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
        assert main(['align', '--device', 'cuda:7']) == 2
        assert '--device cuda:7: no such device (this machine has 0 CUDA device(s)' in caplog.text


@pytest.mark.parametrize('argv, option', [
    (['seeds', '--clusters', '0'], '--clusters'),
    (['seeds', '--epochs', '-1'], '--epochs'),
    (['seeds', '--budget', '0'], '--budget'),
    (['info', '--num-entities', '0'], '--num-entities'),
    (['info', '--dataset', 'SRPRS/en_fr', '--num-entities', '10', '--root', '.'], '--num-entities'),
])
def test_seeds_and_info_bad_arguments(capsys, caplog, argv, option):
    assert main(argv) == 2
    assert option in capsys.readouterr().err + caplog.text
