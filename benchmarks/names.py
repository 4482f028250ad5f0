"""Names only, no training: which name encoder ranks the gold partners best (issue 14, part 3)?

    python benchmarks/names.py --pairs DBP15K/zh_en DBP15K/ja_en DBP15K/fr_en

Every encoder of :func:`psqe_pyg.features.encode_names` and their ``+`` combinations embed both KGs'
names; each validation (DBP15K's 30%, SRPRS's ``sup``) and test source is ranked against the other
side's validation / test targets (``links``, the customary set) and against every entity of the other KG
(``all``), cosine, pessimistic ties. The encoder of record for a pair is the one with the best
*validation* Hits@1; the test numbers are reported, never used to choose.

The parts (``minilm``, ``e5`` on the names, ``e5-orig`` on the URIs' local names) are encoded once per pair by
:func:`psqe_pyg.features.encode_pair_name_blocks` (e5 once per distinct string, kept in
``$PSQE_PYG_CACHE/name-blocks/``, which the pair builder reads too: e5 takes minutes per 10k names on 2 cores); the
combinations are built from them as the pair builder builds them: each part weighed by the inverse spread of
its cosine over random cross-KG pairs (:func:`psqe_pyg.features.name_block_weights`, no link read), then
:func:`psqe_pyg.features.combine_name_blocks`. Writes ``benchmarks/results/names.json`` (kept across invocations, one
entry per pair) and ``names.md``.
"""
import argparse
import logging
import time

from common import DEFAULT_DATA, RESULTS, earlier_entries, write_result

from psqe_pyg.datasets import load_dataset
from psqe_pyg.evaluation import gold_links
from psqe_pyg.features import combine_name_blocks, encode_pair_name_blocks, name_block_weights
from psqe_pyg.metrics import ranking_metrics
from psqe_pyg.readers import uri_local_name

log = logging.getLogger('names')
PARTS = ('minilm', 'e5', 'e5-orig')
SPECS = ('minilm', 'e5', 'e5-orig', 'minilm+e5', 'e5+e5-orig', 'minilm+e5+e5-orig')


def run(spec: str, root: str) -> dict:
    data = load_dataset(spec, root, name_encoder='hash', log=False)  # names and URIs; x_name unused
    original = {side: [uri_local_name(u) for u in data[side].uri] for side in ('src', 'tgt')}
    start = time.perf_counter()
    both = encode_pair_name_blocks(data['src'].name, data['tgt'].name, '+'.join(PARTS), src_original=original['src'],
                                   tgt_original=original['tgt'], show_progress=True)
    log.info('%s: every part encoded (or read from the e5 cache) in %.0f s', spec, time.perf_counter() - start)
    blocks = {side: dict(zip(PARTS, side_blocks)) for side, side_blocks in zip(('src', 'tgt'), both)}
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
    results = earlier_entries('names', 'pairs')
    for spec in args.pairs:
        results[spec] = run(spec, args.root)
        path = write_result('names', {'metric': 'names only, cosine, pessimistic ranks', 'pairs': results})
        (RESULTS / 'names.md').write_text(table(results))
    log.info('wrote %s and names.md', path)


if __name__ == '__main__':
    main()
