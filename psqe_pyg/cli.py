"""The ``psqe-pyg`` command (also ``python -m psqe_pyg``)."""
import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger('psqe_pyg')


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--dataset', default='synthetic',
                   help="'synthetic' (default, built in), 'DBP15K/<zh_en|ja_en|fr_en>', "
                        "'SRPRS/<en_fr|en_de|dbp_wd|dbp_yg>' or the folder of your own KG pair "
                        "(OpenEA or id layout, see README)")
    p.add_argument('--root', default=None, help='folder holding DBP15K/ and SRPRS/ (e.g. ../shared/data)')
    p.add_argument('--cache-dir', default=None, help='where processed datasets are cached')
    p.add_argument('--name-encoder', default=None, choices=['auto', 'minilm', 'hash'],
                   help="name encoder for x_name (default: the dataset's: 'auto' = MiniLM when installed, "
                        "else hashing, for real data; 'hash' for the synthetic pair)")
    p.add_argument('--images', default=None, help='EVA-style image-feature pickle {global_id: vector}')
    p.add_argument('--num-entities', type=int, default=None, help='size of the synthetic pair')


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """The options of the commands that run seed generation."""
    p.add_argument('--name-ngram-attrs', default='auto', choices=['auto', 'yes', 'no'],
                   help='character n-gram name hashes as x_attr (auto: only for pairs without attribute '
                        'features, the stand-in of DESIGN §7)')
    p.add_argument('--quiet', action='store_true', help='no progress bars')


def _load(args: argparse.Namespace):
    from psqe_pyg.datasets import load_dataset
    kwargs = {}
    if args.name_encoder:
        kwargs['name_encoder'] = args.name_encoder
    if args.cache_dir:
        kwargs['processed_dir'] = args.cache_dir
    if args.images:
        kwargs['image_features'] = args.images
    if args.num_entities is not None:
        if args.dataset != 'synthetic':
            raise ValueError('--num-entities applies to the synthetic pair only')
        kwargs['num_entities'] = args.num_entities
    data = load_dataset(args.dataset, args.root, **kwargs)
    if getattr(args, 'name_ngram_attrs', 'no') != 'no':
        from psqe_pyg.transforms import NameNgramFeatures
        data = NameNgramFeatures(overwrite=args.name_ngram_attrs == 'yes')(data)
    return data


def _write_json(obj: dict, path: str | None) -> None:
    text = json.dumps(obj, indent=2)
    if path in (None, '-'):
        sys.stdout.write(text + '\n')
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text + '\n')
        log.info('wrote %s', path)


def cmd_info(args: argparse.Namespace) -> int:
    from psqe_pyg.datasets import dataset_summary
    summary = dataset_summary(_load(args))
    summary = {'dataset': args.dataset, **summary}
    if args.json:
        _write_json(summary, '-')
        return 0
    print(f"{args.dataset}")
    for side in ('src', 'tgt'):
        s = summary[side]
        mods = ', '.join(f'{k} [{v}]' for k, v in s['modalities'].items()) or 'none'
        print(f"  {side}: {s['entities']:,} entities, {s['relation_triples']:,} relation triples, "
              f"{s['relations']:,} relations; modalities: {mods}")
    links = summary['links']
    print(f"  links: {links['total']:,} (train {links['train']:,}, test {links['test']:,})")
    return 0


def cmd_seeds(args: argparse.Namespace) -> int:
    from psqe_pyg.report import plot_seed_report, run_seed_method
    data = _load(args)
    report = run_seed_method(data, args.method, budget=args.budget, epochs=args.epochs, seed=args.seed,
                             num_clusters=args.clusters, progress=not args.quiet)
    report = {'dataset': args.dataset, **report}
    reports = [report]
    if args.method == 'psqe':  # the baseline at the same budget, so the report shows what PSQE changes
        report['baseline'] = run_seed_method(data, 'pivot', budget=args.budget)
        reports.insert(0, report['baseline'])
    for r in reports:
        for stage, row in r['stages'].items():
            print(f"{r['method']:>5} {stage:>18}: {row['seeds']:6d} seeds, precision {row['precision']:.3f} "
                  f"(verifiable {row['verifiable_precision']:.3f}), recall {row['recall']:.3f}, "
                  f"degree TV {row['coverage_degree']['tv_distance']:.3f}, {row['time_s']:.1f} s")
    if args.json:
        _write_json(report, args.json)
    if args.plot:
        plot_seed_report(reports, args.plot, title=f'{args.dataset}: share of seed ends per degree bucket')
        log.info('wrote %s', args.plot)
    return 0


def _summary(result: dict) -> str:
    """A few readable lines: the seeds, then the test-link metrics and the sparse/dense split."""
    tr = result['training']
    prec = lambda p: '' if p is None else f' ({100 * p:.1f}% correct)'  # noqa: E731
    cos = result['cosine']['mean']
    lines = [
        f"{result['dataset']}: {result['num_links']:,} test links",
        f"  seeds ({result['seeds']['method']}): {tr['seeds']:,}{prec(tr['seed_precision'])}, "
        f"{result['seeds']['time_s']:.1f} s; after iterative learning {tr['final_pairs']:,}"
        f"{prec(tr['final_pair_precision'])}",
        f"  aligner: {tr['config']['steps']} steps on {tr['device']}, {tr['train_s']:.1f} s",
        f"  Hits@1 {100 * cos['hits@1']:.1f}  Hits@10 {100 * cos['hits@10']:.1f}  MRR {cos['mrr']:.3f}"
        "  (cosine, mean of both directions)",
    ]
    if 'csls' in result:
        c = result['csls']['mean']
        lines.append(f"  Hits@1 {100 * c['hits@1']:.1f}  Hits@10 {100 * c['hits@10']:.1f}  MRR {c['mrr']:.3f}"
                     f"  (CSLS, k={result['csls']['csls_k']})")
    if 'one_to_one_hits@1' in result:
        lines.append(f"  Hits@1 {100 * result['one_to_one_hits@1']:.1f} with one-to-one decoding")
    groups = ', '.join(f"degree {g['degree'][0]}-{g['degree'][1]}: {100 * g['hits@1']:.1f}"
                       for g in result['by_degree'] if g['count'])
    lines.append(f"  Hits@1 by source degree (thirds): {groups}")
    return '\n'.join(lines)


def cmd_align(args: argparse.Namespace) -> int:
    import torch

    from psqe_pyg.pipeline import AlignerConfig, train_and_evaluate
    from psqe_pyg.report import generate_seeds
    data = _load(args)
    seeded, _, timings = generate_seeds(data, args.seeds, budget=args.budget, seed=args.seed,
                                             progress=not args.quiet, epochs=args.psqe_epochs)
    config = AlignerConfig(steps=args.steps, refine_every=args.refine_every, hidden=args.hidden)
    device = args.device if args.device != 'auto' else 'cuda' if torch.cuda.is_available() else 'cpu'
    result = train_and_evaluate(seeded, config, device=device, seed=args.seed, progress=not args.quiet)
    result = {'dataset': args.dataset,
              'seeds': {'method': args.seeds, 'budget': args.budget, 'time_s': sum(timings.values())},
              **result}
    print(_summary(result))
    if args.json:
        _write_json(result, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from psqe_pyg.pipeline import AlignerConfig
    parser = argparse.ArgumentParser(prog='psqe-pyg', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='log at DEBUG level')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('info', help='entities, triples, relations, links and modalities per side')
    _add_data_args(p)
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_info)

    p = sub.add_parser('seeds', help='generate pseudo seeds and report their quality and coverage')
    _add_data_args(p)
    p.add_argument('--method', default='psqe', choices=['psqe', 'pivot'])
    p.add_argument('--budget', type=int, default=1000)
    p.add_argument('--clusters', type=int, default=5)
    p.add_argument('--epochs', type=int, default=300, help='stage-2 encoder epochs')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None, help='write the report as JSON to this file')
    p.add_argument('--plot', default=None, help='write the coverage plot (PNG) to this file')
    _add_run_args(p)
    p.set_defaults(func=cmd_seeds)

    p = sub.add_parser('align', help='pseudo seeds, then an aligner trained on them, evaluated on the test links')
    _add_data_args(p)
    p.add_argument('--seeds', default='psqe', choices=['psqe', 'pivot'], help='the seed generator')
    p.add_argument('--budget', type=int, default=1000)
    p.add_argument('--psqe-epochs', type=int, default=300, help="PSQE stage-2 epochs (with --seeds psqe)")
    p.add_argument('--steps', type=int, default=AlignerConfig.steps, help='aligner training steps')
    p.add_argument('--refine-every', type=int, default=AlignerConfig.refine_every,
                   help='iterative learning every this many steps (0: off)')
    p.add_argument('--hidden', type=int, default=AlignerConfig.hidden)
    p.add_argument('--device', default='auto', help="'cpu', 'cuda', 'cuda:1', ... (auto: cuda when available)")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--json', default=None, help='write the full result as JSON to this file')
    _add_run_args(p)
    p.set_defaults(func=cmd_align)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        log.error('%s', e)
        return 2
