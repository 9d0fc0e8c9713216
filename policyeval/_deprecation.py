"""Renamed arguments keep working for one release, with a :class:`PolicyevalFutureWarning`.

The vocabulary every public function follows (issue 12) is in ``docs/vocabulary.md``.
"""

from __future__ import annotations

import functools
import warnings

from policyeval.exceptions import ArgumentTypeError, PolicyevalFutureWarning

__all__ = ["renamed_arguments", "warn_renamed", "legacy_plot_kind"]


def warn_renamed(what: str, old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is now ``new`` (``what`` says where, e.g. ``"TWFE.fit"``).

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("f", "df", "data")
    >>> str(w[0].message)
    'f(df=...) is now f(data=...); the old name stops working in the next release'
    """
    warnings.warn(f"{what}({old}=...) is now {what}({new}=...); the old name stops working in "
                  "the next release", PolicyevalFutureWarning, stacklevel=stacklevel)


def renamed_arguments(**old_to_new: str):
    """Decorator: accept the old keyword names in ``old_to_new`` with a FutureWarning.

    The wrapped function keeps its signature (``inspect.signature`` shows the
    new names only). Passing both the old and the new name raises
    :class:`~policyeval.exceptions.ArgumentTypeError`.

    >>> @renamed_arguments(df="data")
    ... def f(data):
    ...     return data
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     f(df=3)
    3
    """

    def decorate(fn):
        where = fn.__qualname__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ArgumentTypeError(
                            f"{where}: pass {new}= only ({old}= is its old name)")
                    warn_renamed(where, old, new)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def legacy_plot_kind(ax, label, kind):
    """``plot(kind)`` / ``plot(kind, ax)`` of before 0.2 read as ``plot(ax, label, kind=)``.

    Returns ``(ax, label, kind)``; warns when the old order was used.

    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     legacy_plot_kind("gaps", None, "paths")
    (None, None, 'gaps')
    """
    if isinstance(ax, str):
        warnings.warn(f"plot({ax!r}): pass kind={ax!r}; plot's first argument is now ax",
                      PolicyevalFutureWarning, stacklevel=3)
        kind, ax = ax, None
        if label is not None and not isinstance(label, str):   # old plot(kind, ax)
            ax, label = label, None
    return ax, label, kind
