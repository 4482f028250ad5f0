"""Deprecation aliases for names and modules that moved: they keep working for one release, with a warning."""
import importlib
import warnings
from typing import Any, Callable


def moved(old: str, new: str | tuple[str, ...], renamed: dict[str, str] | None = None) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for the module ``old`` whose names now live in ``new``.

    Args:
        old: the old module's name (``__name__``).
        new: the module (or modules, searched in order) that define the names now.
        renamed: ``{old name: 'module:new name'}`` for names that changed too.

    Every name found this way warns with a :class:`DeprecationWarning` that says where it lives now; a name
    found nowhere raises :class:`AttributeError` as usual.
    """
    targets = (new, ) if isinstance(new, str) else new
    renamed = renamed or {}

    def __getattr__(name: str) -> Any:
        if name in renamed:
            module, _, attr = renamed[name].partition(':')
        else:
            module = next((m for m in targets if hasattr(importlib.import_module(m), name)), None)
            attr = name
            if module is None or name.startswith('__'):
                raise AttributeError(f'module {old!r} has no attribute {name!r}')
        warnings.warn(f'{old}.{name} is deprecated and will be removed in the next release; use '
                      f'{module}.{attr}', DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(module), attr)

    return __getattr__
