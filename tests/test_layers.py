"""The package's layers, read from the source with ``ast`` (nothing is imported): a module may import its own
layer and the layers below it, never one above; the subpackages import each other without cycles; and no
module imports a deprecated alias."""
import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'psqe_pyg'

# Lowest first: the data path in one line. features sit below pair because build_pair computes them.
LAYERS = [
    ('_cache', '_checks', '_deprecation', '_init_args', 'distributed'),  # cache folder, shared checks, process-group helpers
    ('ops', ),  # the compiled kernels, their references and sharded paths
    ('features', ),  # names -> text embeddings, attribute / relation bags
    ('readers', ),  # strict, located file parsing
    ('pair', ),  # the HeteroData schema, its builders and accessors (modalities, seeds, graph views)
    ('datasets', ),  # PyG InMemoryDatasets over readers + pair
    ('nn', ),  # the stage-2 seed encoder and the aligner
    ('transforms', ),  # PSQE stages 1-3, error correction, the pivot baseline
    ('decoding', ),  # one-to-one decoders
    ('metrics', ),  # ranking and seed metrics
    ('evaluation', 'prediction'),  # evaluation on the gold links; the predicted alignment
    ('pipeline', ),  # seeds -> aligner -> alignment
    ('report', ),  # seed reports and plots
    ('cli', '__main__'),  # the psqe-pyg command
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Old homes kept for one release: nothing in the package may import them.
DEPRECATED = {'psqe_pyg.data', 'psqe_pyg.graph', 'psqe_pyg.transforms.matching', 'psqe_pyg.transforms.modalities',
              'psqe_pyg.transforms.seeds'}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in the file, also inside functions; ``from psqe_pyg import x``
    counts as an import of ``psqe_pyg.x``."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            if base == 'psqe_pyg':
                out += [(node.lineno, f'psqe_pyg.{alias.name}') for alias in node.names]
            else:
                out.append((node.lineno, base))
    return [(line, m) for line, m in out if m == 'psqe_pyg' or m.startswith('psqe_pyg.')]


def top(module: str) -> str | None:
    """The top-level part of ``psqe_pyg`` a module belongs to (``None`` for the package itself)."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else None


def is_deprecated(module: str) -> bool:
    return any(module == d or module.startswith(d + '.') for d in DEPRECATED)


def package_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob('*.py') if 'build' not in p.parts)


def violations() -> list[str]:
    """Every import from a lower layer to a higher one, and every import of a deprecated alias."""
    out = []
    for path in package_modules():
        name = module_name(path)
        if name == 'psqe_pyg' or is_deprecated(name):
            continue  # the package root loads submodules lazily by name; aliases import nothing of the package
        here = RANK[top(name)]
        for line, module in imported_modules(path):
            where = f'{path.relative_to(PACKAGE.parent)}:{line}'
            if is_deprecated(module):
                out.append(f'{where} imports the deprecated alias {module}')
            elif top(module) is not None and RANK[top(module)] > here:
                out.append(f'{where}: {top(name)} (layer {here}) imports {module} (layer {RANK[top(module)]})')
    return out


def subpackage_cycles() -> list[list[str]]:
    """Cycles in the graph of imports between the top-level parts of the package."""
    graph: dict[str, set[str]] = {}
    for path in package_modules():
        name = module_name(path)
        if name == 'psqe_pyg' or is_deprecated(name):
            continue
        graph.setdefault(top(name), set()).update(
            top(m) for _, m in imported_modules(path) if top(m) not in (None, top(name)) and not is_deprecated(m))
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 'open'
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 'open':
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 'done'

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_every_part_of_the_package_has_a_layer():
    parts = {top(module_name(p)) for p in package_modules()} - {None}
    aliases = {top(d) for d in DEPRECATED if d.count('.') == 1}
    assert parts - aliases - set(RANK) == set(), 'add the new module to LAYERS'


def test_lower_layers_never_import_higher_ones():
    assert violations() == []


def test_no_cycle_between_subpackages():
    assert subpackage_cycles() == []


@pytest.fixture
def package_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the package's sources that the checks read instead of the package."""
    copy = tmp_path / 'psqe_pyg'
    for path in package_modules():
        target = copy / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    monkeypatch.setattr(sys.modules[__name__], 'PACKAGE', copy)
    return copy


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + '\n' + text + '\n')


@pytest.mark.parametrize('offender, line', [
    ('nn/aligner.py', 'from psqe_pyg.transforms import PSQE'),  # nn below transforms: the old cycle
    ('pair/modalities.py', '    from psqe_pyg import datasets'),  # inside a function, and via the package
    ('readers/io.py', 'from ..pair import build_pair'),  # relative
    ('transforms/psqe.py', 'from psqe_pyg.data import SAME_AS'),  # a deprecated alias
])
def test_the_check_catches_an_added_import(package_copy, offender, line):
    append(package_copy / offender, f'def _added():\n{line}' if line.startswith(' ') else line)
    found = violations()
    assert len(found) == 1 and offender in found[0]


def test_the_check_catches_a_cycle_within_a_layer(package_copy):
    append(package_copy / 'prediction.py', 'from psqe_pyg import evaluation')
    append(package_copy / 'evaluation.py', 'from psqe_pyg import prediction')
    assert violations() == [] and subpackage_cycles() == [['evaluation', 'prediction', 'evaluation']]
