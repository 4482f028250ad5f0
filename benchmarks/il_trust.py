"""How much should iterative learning trust its own pairs? Chosen on validation links (issue 14, part 4).

    python benchmarks/il_trust.py --datasets DBP15K/zh_en SRPRS/en_fr synthetic:img=2 ...

A dataset is a registered pair or ``synthetic:img=S``, the built-in pair with its images (the pivot's
modality) at noise ``S``. For every dataset: pivot seeds (the pipeline's default budget), then the default aligner without iterative
learning, with it as it is, and with it bounded by ``refine_quantile`` (new pairs must score at least that
quantile of the held pairs' scores) for each ``--quantiles``. Scored on the *validation* links (DBP15K's
30%, SRPRS's ``sup``); test Hits@1 is recorded next to it and never read to choose. Writes
``benchmarks/results/il_trust.json`` (kept across invocations, one entry per dataset) and ``il_trust.md``.
"""
import argparse
import logging
import time
from dataclasses import replace

from alignment import load_pair
from common import DEFAULT_DATA, RESULTS, earlier_entries, write_result

from psqe_pyg.datasets import SyntheticKGPair
from psqe_pyg.evaluation import evaluate_alignment
from psqe_pyg.nn import AlignerConfig
from psqe_pyg.pipeline import generate_seeds, train_on_seeds

log = logging.getLogger('il_trust')


def variants(quantiles: list[float]) -> dict[str, AlignerConfig]:
    base = AlignerConfig(propagated=0.0)  # iterative learning acts on the trained views alone
    out = {'no_il': replace(base, refine_every=0), 'il': base}
    out.update({f'il_q{q:g}': replace(base, refine_quantile=q) for q in quantiles})
    return out


def load(dataset: str, root: str):
    if dataset.startswith('synthetic:img='):
        return SyntheticKGPair(img_noise=float(dataset.split('=', 1)[1]))[0]
    return load_pair(dataset, root, 'auto')


def run(dataset: str, root: str, quantiles: list[float], seed: int) -> dict:
    data = generate_seeds(load(dataset, root), 'pivot', seed=seed)
    out = {}
    for name, config in variants(quantiles).items():
        start = time.perf_counter()
        src, tgt, training = train_on_seeds(data, config, seed=seed, progress=False)
        hits = {split: evaluate_alignment(data, src, tgt, split=split, csls_k=None,
                                          one_to_one=False)['cosine']['mean']['hits@1']
                for split in ('val', 'test')}
        out[name] = {'val_hits@1': hits['val'], 'test_hits@1': hits['test'], 'final_pairs': training['final_pairs'],
                     'final_pair_precision': training['final_pair_precision'],
                     'seconds': time.perf_counter() - start}
        log.info('%s %s: val Hits@1 %.4f (test %.4f), %d pairs at %.3f', dataset, name, hits['val'],
                 hits['test'], training['final_pairs'], training['final_pair_precision'])
    chosen = max(out, key=lambda name: out[name]['val_hits@1'])
    return {'variants': out, 'chosen_on_val': chosen}


def table(results: dict) -> str:
    names = list(dict.fromkeys(name for r in results.values() for name in r['variants']))
    lines = ['| dataset | ' + ' | '.join(names) + ' |', '|---|' + '---|' * len(names)]
    for dataset, r in results.items():
        cells = []
        for name in names:  # datasets run with other quantiles leave cells empty
            v = r['variants'].get(name)
            cell = '' if v is None else f"{100 * v['val_hits@1']:.1f} / {100 * v['test_hits@1']:.1f}"
            cells.append(f'**{cell}**' if name == r['chosen_on_val'] else cell)
        lines.append(f'| {dataset} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=['DBP15K/zh_en', 'DBP15K/ja_en', 'DBP15K/fr_en',
                                                          'SRPRS/en_fr', 'SRPRS/en_de', 'SRPRS/dbp_wd'])
    parser.add_argument('--quantiles', type=float, nargs='+', default=[0.1])
    parser.add_argument('--root', default=str(DEFAULT_DATA))
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    results = earlier_entries('il_trust', 'datasets')
    for dataset in args.datasets:
        results[dataset] = run(dataset, args.root, args.quantiles, args.seed)
        write_result('il_trust', {'metric': 'cosine Hits@1, pivot seeds, validation / test links',
                                  'datasets': results})
        (RESULTS / 'il_trust.md').write_text(table(results))


if __name__ == '__main__':
    main()
