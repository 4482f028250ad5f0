"""psqe_pyg: unsupervised multimodal entity alignment with PSQE pseudo-seeds, for PyTorch Geometric."""
import importlib

__version__ = '0.1.0'

# In layer order: each imports only those before it (tests/test_layers.py); 'data' is a deprecated alias.
_SUBMODULES = ('ops', 'features', 'readers', 'pair', 'datasets', 'nn', 'transforms', 'decoding', 'metrics',
               'evaluation', 'prediction', 'pipeline', 'report', 'data')


def __getattr__(name: str):
    # Submodules load on first use, so `import psqe_pyg` stays cheap.
    if name in _SUBMODULES:
        return importlib.import_module(f'{__name__}.{name}')
    if name == 'PSQETransform':
        from psqe_pyg.transforms import PSQETransform
        return PSQETransform
    raise AttributeError(f"module 'psqe_pyg' has no attribute '{name}'")


__all__ = ['__version__', 'PSQETransform', *_SUBMODULES]
