"""Deprecated: moved to :mod:`psqe_pyg.readers.layouts` and :mod:`psqe_pyg.pair.from_raw` (this alias goes in
the next release)."""
from psqe_pyg._deprecation import moved

__getattr__ = moved(__name__, ('psqe_pyg.readers.layouts', 'psqe_pyg.pair.from_raw'))
