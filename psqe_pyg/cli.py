"""The ``psqe-pyg`` command (also ``python -m psqe_pyg``)."""
import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger('psqe_pyg')


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (and exit status 2), not the usage block."""

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _int_at_least(low: int):
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'must be {"positive" if low == 1 else f"at least {low}"}, '
                                             f'got {value}')
        return value
    parse.__name__ = 'integer'
    return parse


positive_int, non_negative_int = _int_at_least(1), _int_at_least(0)


def share(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number in [0, 1], got {text!r}') from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must lie in [0, 1], got {value}')
    return value


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument('--dataset', default='synthetic',
                   help="'synthetic' (default, built in), 'DBP15K/<zh_en|ja_en|fr_en>', "
                        "'SRPRS/<en_fr|en_de|dbp_wd|dbp_yg>' or the folder of your own KG pair "
                        "(OpenEA or id layout, see README)")
    p.add_argument('--root', default=None, help='folder holding DBP15K/ and SRPRS/ (e.g. ../shared/data)')
    p.add_argument('--cache-dir', default=None, help='where processed datasets are cached')
    p.add_argument('--name-encoder', default=None,
                   help="name encoder for x_name: 'auto', 'minilm', 'hash', 'e5', 'e5-orig' or a '+' "
                        "combination such as 'minilm+e5+e5-orig' (README 'Multilingual names'; default: the dataset's: "
                        "'auto' = MiniLM when installed, else hashing, for real data; 'hash' for the "
                        "synthetic pair)")
    p.add_argument('--images', default=None, help='EVA-style image-feature pickle {global_id: vector}')
    p.add_argument('--num-entities', type=positive_int, default=None, help='size of the synthetic pair')


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """The options of the commands that run seed generation."""
    p.add_argument('--name-ngram-attrs', default='auto', choices=['auto', 'yes', 'no'],
                   help='character n-gram name hashes as x_attr (auto: only for pairs without attribute '
                        'features, the stand-in of DESIGN §7)')
    p.add_argument('--quiet', action='store_true', help='no progress bars')


def _check_output(option: str, path: str | None) -> None:
    """``path`` must name a file in a folder that exists (or can be made) and takes a new file."""
    if path in (None, '-'):
        return
    target = Path(path)
    if target.is_dir():
        raise ValueError(f'{option} {path}: is a folder; expected a file name')
    folder = target.absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f'{option} {path}: cannot write there ({folder} is a file, not a folder)')
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise ValueError(f'{option} {path}: cannot write in {folder} ({e.strerror})') from None


def _check_device(spec: str) -> None:
    """``--device``: 'auto', or a torch device this machine has."""
    if spec == 'auto':
        return
    import torch
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ValueError(f"--device {spec}: not a device; expected 'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            why = 'this torch is built without CUDA' if torch.version.cuda is None else 'no CUDA GPU is visible'
            raise ValueError(f'--device {spec}: CUDA is not available ({why}); use --device cpu')
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f'--device {spec}: no such device (this machine has {torch.cuda.device_count()} '
                             'CUDA device(s), numbered from cuda:0)')


def _check_args(args: argparse.Namespace) -> None:
    """The checks that argparse cannot do, before any work: ValueErrors that name the option."""
    from psqe_pyg.datasets import DATA_ENV
    family = args.dataset.replace('\\', '/').strip('/').partition('/')[0].lower()
    if args.root is not None and not Path(args.root).is_dir():
        raise ValueError(f'--root {args.root}: no such folder')
    if (args.root is None and not os.environ.get(DATA_ENV) and family in ('dbp15k', 'srprs')
            and not Path(args.dataset).exists()):
        raise ValueError(f'--dataset {args.dataset} needs --root (the folder that holds DBP15K/ and SRPRS/) '
                         f'or ${DATA_ENV}')
    if args.num_entities is not None and args.dataset != 'synthetic':
        raise ValueError('--num-entities applies to the synthetic pair only')
    if getattr(args, 'device', None) is not None:
        _check_device(args.device)
    for option in ('json', 'plot', 'output'):
        path = getattr(args, option, None)
        _check_output(f'--{option}', path if isinstance(path, str) else None)  # info's --json is a flag
    if getattr(args, 'plot', None):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError(f'--plot {args.plot}: needs matplotlib (pip install matplotlib)') from None


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
        kwargs['num_entities'] = args.num_entities
    from psqe_pyg.distributed import comm
    with comm.main_first():  # under torchrun rank 0 builds the processed-dataset cache, the others read it
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


def _percent(p: float | None) -> str:
    return '' if p is None else f' ({100 * p:.1f}% correct)'


def _summary(result: dict) -> str:
    """A few readable lines: the seeds, the aligner, the test-link metrics and the sparse/dense split when the
    pair has test links, and the written alignment (with its precision / recall / F1 when evaluated)."""
    tr = result['training']
    evaluated = 'num_links' in result
    lines = [
        f"{result['dataset']}: " + (f"{result['num_links']:,} test links" if evaluated
                                    else f"evaluation {result['evaluation']}"),
        f"  seeds ({result['seeds']['method']}): {tr['seeds']:,}{_percent(tr['seed_precision'])}, "
        f"{result['seeds']['time_s']:.1f} s; after iterative learning {tr['final_pairs']:,}"
        f"{_percent(tr['final_pair_precision'])}",
        f"  aligner: {tr['config']['steps']} steps on {tr['device']}, {tr['train_s']:.1f} s",
    ]
    if evaluated:
        cos = result['cosine']['mean']
        lines.append(f"  Hits@1 {100 * cos['hits@1']:.1f}  Hits@10 {100 * cos['hits@10']:.1f}  MRR {cos['mrr']:.3f}"
                     "  (cosine, mean of both directions)")
        if 'csls' in result:
            c = result['csls']['mean']
            lines.append(f"  Hits@1 {100 * c['hits@1']:.1f}  Hits@10 {100 * c['hits@10']:.1f}  MRR {c['mrr']:.3f}"
                         f"  (CSLS, k={result['csls']['csls_k']})")
        if 'cosine_all' in result:
            lines.append(f"  Hits@1 {100 * result['cosine_all']['mean']['hits@1']:.1f}  (cosine, every entity of "
                         "the other KG a candidate)")
        decoded = ', '.join(f'{name} {100 * v:.1f}' for name, v in result.get('one_to_one', {}).items()
                            if v is not None)
        if decoded:
            lines.append(f"  Hits@1 with one-to-one decoding: {decoded}")
        groups = ', '.join(f"degree {g['degree'][0]}-{g['degree'][1]}: {100 * g['hits@1']:.1f}"
                           for g in result['by_degree'] if g['count'])
        lines.append(f"  Hits@1 by source degree (thirds): {groups}")
    a = result['alignment']
    threshold = 'no threshold' if a['threshold'] is None else f"threshold {a['threshold']:.3f}"
    where = f"written to {a['output']}" if a['output'] else 'not written (no --output)'
    lines.append(f"  alignment: {a['written']:,} of {a['decoded']:,} one-to-one pairs "
                 f"({'--keep-all, ' if a['keep_all'] else ''}{threshold}; {a['accepted_mutual']:,} of the "
                 f"{a['accepted']:,} at or above it are mutual nearest neighbours), {where}")
    if 'quality' in a:
        q = a['quality']['all' if a['keep_all'] else 'accepted']
        fmt = lambda v: 'undefined' if v is None else f'{v:.3f}'  # noqa: E731
        lines.append(f"  these pairs against the {q['links']:,} test links: precision {fmt(q['precision'])} "
                     f"({q['correct']:,} of the {q['verifiable']:,} pairs with an end in a test link), "
                     f"recall {fmt(q['recall'])}, F1 {fmt(q['f1'])}")
    return '\n'.join(lines)


def cmd_align(args: argparse.Namespace) -> int:
    import torch

    from psqe_pyg.pipeline import AlignerConfig, align_and_report
    from psqe_pyg.prediction import write_alignment
    data = _load(args)
    config = AlignerConfig(steps=args.steps, refine_every=args.refine_every, hidden=args.hidden,
                           propagated=args.propagated)
    from psqe_pyg.distributed import comm
    device = args.device if args.device != 'auto' else 'cuda' if torch.cuda.is_available() else 'cpu'
    device = comm.local_device(device)  # under torchrun: this rank's GPU
    psqe_kwargs = {'epochs': args.psqe_epochs} if args.seeds == 'psqe' else {}
    decoded, result = align_and_report(data, seeds=args.seeds, budget=args.budget, config=config, device=device,
                                       seed=args.seed, progress=not args.quiet, **psqe_kwargs)
    written = decoded if args.keep_all else decoded.accepted()
    if args.output:
        Path(args.output).absolute().parent.mkdir(parents=True, exist_ok=True)
        write_alignment(written, args.output, data)
    result['alignment'].update(written=len(written.src), keep_all=args.keep_all, output=args.output)
    result = {'dataset': args.dataset, **result}
    print(_summary(result))
    if args.plot:
        from psqe_pyg.report import plot_score_distribution
        plot_score_distribution(decoded, args.plot, title=f'{args.dataset}: scores of the one-to-one pairs')
        log.info('wrote %s', args.plot)
    if args.json:
        _write_json(result, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from psqe_pyg.pipeline import AlignerConfig
    from psqe_pyg.transforms import defaults as D
    parser = _Parser(prog='psqe-pyg', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='log at DEBUG level')
    sub = parser.add_subparsers(dest='command', required=True)

    p = sub.add_parser('info', help='entities, triples, relations, links and modalities per side')
    _add_data_args(p)
    p.add_argument('--json', action='store_true', help='print JSON')
    p.set_defaults(func=cmd_info)

    p = sub.add_parser('seeds', help='generate pseudo seeds and report their quality and coverage')
    _add_data_args(p)
    p.add_argument('--method', default='psqe', choices=['psqe', 'pivot'])
    p.add_argument('--budget', type=positive_int, default=D.BUDGET)
    p.add_argument('--clusters', type=positive_int, default=D.NUM_CLUSTERS)
    p.add_argument('--epochs', type=positive_int, default=D.EPOCHS, help='stage-2 encoder epochs')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--json', default=None, help='write the report as JSON to this file')
    p.add_argument('--plot', default=None, help='write the coverage plot (PNG) to this file')
    _add_run_args(p)
    p.set_defaults(func=cmd_seeds)

    p = sub.add_parser('align', help='pseudo seeds, an aligner trained on them, the predicted one-to-one alignment; '
                                     'evaluated on the test links when the pair has them')
    _add_data_args(p)
    p.add_argument('--seeds', default='psqe', choices=['psqe', 'pivot'], help='the seed generator')
    p.add_argument('--budget', type=positive_int, default=D.BUDGET)
    p.add_argument('--psqe-epochs', type=positive_int, default=D.EPOCHS,
                   help="PSQE stage-2 epochs (with --seeds psqe)")
    p.add_argument('--steps', type=positive_int, default=AlignerConfig.steps, help='aligner training steps')
    p.add_argument('--refine-every', type=non_negative_int, default=AlignerConfig.refine_every,
                   help='iterative learning every this many steps (0: off)')
    p.add_argument('--hidden', type=positive_int, default=AlignerConfig.hidden)
    p.add_argument('--propagated', type=share, default=AlignerConfig.propagated,
                   help='share of the final embeddings given to the training-free propagated features '
                        '(late fusion; 1: those alone, no training; README "Alignment study")')
    p.add_argument('--device', default='auto', help="'cpu', 'cuda', 'cuda:1', ... (auto: cuda when available)")
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--output', default=None,
                   help='write the predicted alignment here (TSV: src, tgt, score, mutual; best first)')
    p.add_argument('--keep-all', action='store_true',
                   help="write every source's one-to-one target, also those below the no-counterpart threshold")
    p.add_argument('--plot', default=None, help='draw the score distribution of the pairs and the threshold (PNG)')
    p.add_argument('--json', default=None, help='write the full result as JSON to this file')
    _add_run_args(p)
    p.set_defaults(func=cmd_align)
    return parser


def _join_process_group(args: argparse.Namespace) -> bool:
    """Under torchrun (``WORLD_SIZE`` > 1): joins the process group (NCCL for a CUDA ``--device``, else gloo).
    Every rank runs the same command on the same data, the similarity joins, k-means and the aligner's training
    split over the ranks; ranks other than 0 write no file and print and log nothing below WARNING."""
    if int(os.environ.get('WORLD_SIZE', '1')) <= 1:
        return False
    import torch

    from psqe_pyg.distributed import comm
    spec = getattr(args, 'device', 'cpu')
    cuda = spec.startswith('cuda') or (spec == 'auto' and torch.cuda.is_available())
    comm.init_from_env('cuda' if cuda else 'cpu')
    if not comm.is_main():
        logging.getLogger().setLevel(logging.WARNING)
        for option in ('json', 'plot', 'output'):
            if isinstance(getattr(args, option, None), str):
                setattr(args, option, None)
        args.quiet = True
    return True


def main(argv: list[str] | None = None) -> int:
    """Runs the command; returns its exit status (2 for bad arguments or input, with one line saying why)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        _check_args(args)
        if _join_process_group(args):
            import torch.distributed as dist
            from psqe_pyg.distributed import comm
            try:
                with contextlib.redirect_stdout(sys.stdout if comm.is_main() else io.StringIO()):
                    return args.func(args)
            finally:
                dist.destroy_process_group()
        return args.func(args)
    except (ValueError, FileNotFoundError) as e:
        log.error('%s', e)
        return 2
