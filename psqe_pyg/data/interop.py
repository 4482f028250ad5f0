"""Deprecated: moved to :mod:`psqe_pyg.pair.interop` (this alias goes in the next release)."""
from psqe_pyg._deprecation import moved

__getattr__ = moved(__name__, 'psqe_pyg.pair.interop')
