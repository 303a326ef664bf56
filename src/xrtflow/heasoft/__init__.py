"""HEASoft integration: the task runner (isolated PFILES), task parameter builders, PyXspec fits.

Nothing here imports HEASoft, heasoftpy or PyXspec at import time; ``xspec`` is imported only
inside :func:`xrtflow.heasoft.xspec_fit.fit`.
"""

from importlib import import_module

# Re-exported lazily (PEP 562): the native backend's jobs never import the HEASoft runner.
_EXPORTS = ("HeasoftEnvironmentError", "HeasoftTaskError", "TaskResult", "build_args", "run_task")

__all__ = list(_EXPORTS)


def __getattr__(name: str):  # noqa: ANN202 (module attribute)
    if name in _EXPORTS:
        return getattr(import_module("xrtflow.heasoft.runner"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
