"""Names only, no training: which name encoder ranks the gold partners best (issue 14, part 3)?

    python benchmarks/names.py --pairs DBP15K/zh_en DBP15K/ja_en DBP15K/fr_en

Every encoder of :func:`psqe_pyg.features.encode_names` and their ``+`` combinations embed both KGs'
names; each validation (DBP15K's 30%, SRPRS's ``sup``) and test source is ranked against the other
side's validation / test targets (``links``, the customary set) and against every entity of the other KG
(``all``), cosine, pessimistic ties. The encoder of record for a pair is the one with the best
*validation* Hits@1; the test numbers are reported, never used to choose.

The parts (``minilm``, ``e5`` on the names, ``e5-orig`` on the URIs' local names; e5 once per distinct
string) are encoded once per pair and kept in ``$PSQE_PYG_CACHE/name-blocks/`` (e5 takes minutes per 10k names on 2 cores); the
combinations are built from them as the pair builder builds them: each part weighed by the inverse spread of
its cosine over random cross-KG pairs (:func:`psqe_pyg.features.name_block_weights`, no link read), then
:func:`psqe_pyg.features.combine_name_blocks`. Writes ``benchmarks/results/names.json`` (kept across invocations, one
entry per pair) and ``names.md``.
"""
import argparse
import hashlib
import json
import logging
import os
import time
from pathlib import Path

import torch
from common import DEFAULT_DATA, RESULTS, write_result

from psqe_pyg.datasets import load_dataset
from psqe_pyg.evaluation import gold_links
from psqe_pyg.features import combine_name_blocks, encode_names, name_block_weights
from psqe_pyg.metrics import ranking_metrics
from psqe_pyg.readers import uri_local_name

log = logging.getLogger('names')
PARTS = ('minilm', 'e5', 'e5-orig')
SPECS = ('minilm', 'e5', 'e5-orig', 'minilm+e5', 'e5+e5-orig', 'minilm+e5+e5-orig')


def cache_dir() -> Path:
    root = os.environ.get('PSQE_PYG_CACHE')
    return (Path(root) if root else Path.home() / '.cache' / 'psqe_pyg') / 'name-blocks'


def encode_part(part: str, names: list[str]) -> torch.Tensor:
    """One part's ``[N, 384]`` embedding of ``names``, cached on disk by the names' hash."""
    key = hashlib.sha256('\n'.join(names).encode('utf-8')).hexdigest()[:20]
    path = cache_dir() / f'{part}-{key}.pt'
    if path.is_file():
        return torch.load(path)
    start = time.perf_counter()
    x = encode_names(names, part, show_progress=True)
    log.info('%s: %d names in %.0f s', part, len(names), time.perf_counter() - start)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix('.tmp')
    torch.save(x, tmp)
    os.replace(tmp, path)
    return x


def run(spec: str, root: str) -> dict:
    data = load_dataset(spec, root, name_encoder='hash', log=False)  # names and URIs; x_name unused
    texts = {side: {'minilm': list(data[side].name), 'e5': list(data[side].name),
                    'e5-orig': [uri_local_name(u) for u in data[side].uri]} for side in ('src', 'tgt')}
    # e5 reads every distinct string once (a KG's names and its URIs' local names overlap a lot)
    distinct = sorted({s for side in texts.values() for s in side['e5'] + side['e5-orig']})
    e5 = encode_part('e5', distinct)
    row = {s: i for i, s in enumerate(distinct)}
    blocks = {side: {'minilm': encode_part('minilm', texts[side]['minilm']),
                     **{part: e5[[row[s] for s in texts[side][part]]] for part in ('e5', 'e5-orig')}}
              for side in texts}
    links = {split: gold_links(data, split) for split in ('val', 'test')}
    out = {'entities': [data['src'].num_nodes, data['tgt'].num_nodes],
           'links': {split: links[split].size(1) for split in links}, 'encoders': {}}
    for enc in SPECS:
        parts = {side: [blocks[side][p] for p in enc.split('+')] for side in ('src', 'tgt')}
        weights = name_block_weights(parts['src'], parts['tgt'])  # as the pair builder weighs them
        src, tgt = (combine_name_blocks(parts[side], weights) for side in ('src', 'tgt'))
        out['encoders'][enc] = {
            f'{split}_{cands}': {key: value for key, value in
                                 ranking_metrics(src, tgt, links[split], candidates=cands)['mean'].items()
                                 if key in ('hits@1', 'hits@10', 'mrr')}
            for split in links for cands in ('links', 'all')}
        log.info('%s %s: val Hits@1 %.4f, test Hits@1 %.4f', spec, enc,
                 out['encoders'][enc]['val_links']['hits@1'], out['encoders'][enc]['test_links']['hits@1'])
    out['chosen_on_val'] = max(SPECS, key=lambda e: out['encoders'][e]['val_links']['hits@1'])
    return out


def table(results: dict) -> str:
    pairs = list(results)
    lines = ['| encoder | ' + ' | '.join(f'{p} val / test' for p in pairs) + ' |',
             '|---|' + '---|' * len(pairs)]
    for enc in SPECS:
        cells = []
        for p in pairs:
            r = results[p]['encoders'][enc]
            cell = f"{100 * r['val_links']['hits@1']:.1f} / {100 * r['test_links']['hits@1']:.1f}"
            cells.append(f'**{cell}**' if results[p]['chosen_on_val'] == enc else cell)
        lines.append(f'| {enc} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', default=['DBP15K/zh_en', 'DBP15K/ja_en', 'DBP15K/fr_en'])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    previous = RESULTS / 'names.json'
    results = json.loads(previous.read_text()).get('pairs', {}) if previous.exists() else {}
    for spec in args.pairs:
        results[spec] = run(spec, args.root)
        path = write_result('names', {'metric': 'names only, cosine, pessimistic ranks', 'pairs': results})
        (RESULTS / 'names.md').write_text(table(results))
    log.info('wrote %s and names.md', path)


if __name__ == '__main__':
    main()
