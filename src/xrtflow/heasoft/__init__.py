"""HEASoft integration: the task runner (isolated PFILES), task parameter builders, PyXspec fits.

Nothing here imports HEASoft, heasoftpy or PyXspec at import time; ``xspec`` is imported only
inside :func:`xrtflow.heasoft.xspec_fit.fit`.
"""

from xrtflow.heasoft.runner import (
    HeasoftEnvironmentError,
    HeasoftTaskError,
    TaskResult,
    build_args,
    run_task,
)

__all__ = ["HeasoftEnvironmentError", "HeasoftTaskError", "TaskResult", "build_args", "run_task"]
