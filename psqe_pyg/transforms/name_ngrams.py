import logging

from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from psqe_pyg.features import HashingTextEncoder
from psqe_pyg.pair.graph import pair_device

log = logging.getLogger(__name__)


class NameNgramFeatures(BaseTransform):
    r"""Adds character n-gram hashes of the entity names as a feature (default ``x_attr``) on both KGs:
    ``[N, dim]``.

    The stand-in for attribute features that DESIGN §7 calibrates PSQE with, for pairs that ship no
    attribute files (DBP15K, SRPRS dbp_wd): it lets stage 1 match on surface forms of the (translated)
    names while the primary modality carries their MiniLM embedding. A pair that already has the feature
    keeps it unless ``overwrite``.

    Args:
        attr: the node attribute to write. dim: hash buckets. ngram: n-gram length.
        overwrite: replace an existing feature.
    """
    def __init__(self, attr: str = 'x_attr', dim: int = 512, ngram: int = 3, overwrite: bool = False) -> None:
        self.attr = attr
        self.encoder = HashingTextEncoder(dim=dim, ngram=ngram)
        self.overwrite = overwrite

    def forward(self, data: HeteroData) -> HeteroData:
        if not self.overwrite and all(self.attr in data[nt] for nt in ('src', 'tgt')):
            log.info('NameNgramFeatures: the pair already has %s; kept', self.attr)
            return data
        device = pair_device(data)
        for nt in ('src', 'tgt'):
            if 'name' not in data[nt]:
                raise ValueError(f"NameNgramFeatures needs the entity names: data['{nt}'].name is missing")
            data[nt][self.attr] = self.encoder(list(data[nt].name)).to(device)
        return data

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(attr={self.attr!r}, dim={self.encoder.dim}, '
                f'ngram={self.encoder.ngram})')
