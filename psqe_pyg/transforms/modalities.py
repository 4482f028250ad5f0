"""Deprecated: moved to :mod:`psqe_pyg.pair.modalities` (this alias goes in the next release)."""
from psqe_pyg._deprecation import moved

__getattr__ = moved(__name__, 'psqe_pyg.pair.modalities', renamed={'NODE_TYPES': 'psqe_pyg.pair.schema:SIDES'})
