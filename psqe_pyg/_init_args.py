"""A transform's constructor arguments, read back from the object: for its ``repr`` and its cache key."""
import inspect


def init_args(obj) -> dict | None:
    """``{name: value}`` of every constructor argument of ``obj``: its ``init_args`` dict when it keeps one (as
    :class:`~psqe_pyg.transforms.PSQETransform` does), else the attributes named like the constructor's
    parameters when every one is stored under its own name; ``None`` when they cannot be read back."""
    args = getattr(obj, 'init_args', None)
    if isinstance(args, dict):
        return args
    if type(obj).__init__ is object.__init__:
        return {}
    try:
        params = inspect.signature(type(obj).__init__).parameters.values()
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    stored = vars(obj) if hasattr(obj, '__dict__') else {}
    if not all(n in stored for n in names):
        return None
    return {n: stored[n] for n in names}


def args_repr(obj) -> str:
    """``Name(arg=value, ...)`` over every constructor argument of ``obj`` (:func:`init_args`)."""
    args = init_args(obj)
    if args is None:
        raise TypeError(f'{type(obj).__name__} does not store its constructor arguments under their own names')
    return f"{type(obj).__name__}({', '.join(f'{k}={v!r}' for k, v in args.items())})"
