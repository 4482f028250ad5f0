"""Deprecated: moved to :mod:`psqe_pyg.readers` (file readers) and :mod:`psqe_pyg.pair` (the pair schema,
builders and generator); this alias goes in the next release."""
from psqe_pyg._deprecation import moved

__getattr__ = moved(__name__, ('psqe_pyg.readers', 'psqe_pyg.pair'))
