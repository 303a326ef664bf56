"""Logging for workflow scripts: everything a step prints goes to its rule's ``log:`` file."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_to_file(path: str | Path | None) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr to ``path`` for the duration of the block.

    Exceptions are logged with their traceback before they propagate, so the rule's log says why
    the job failed.
    """
    logger = logging.getLogger("xrtflow")
    if path is None:
        yield logger
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", buffering=1) as stream:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        previous_level = root.level
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                try:
                    yield logger
                except BaseException:
                    logger.exception("step failed")
                    raise
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)


def script_log(snakemake) -> contextlib.AbstractContextManager:  # noqa: ANN001 (Snakemake object)
    """``log_to_file`` for the first log file of a Snakemake ``script:`` job."""
    return log_to_file(snakemake.log[0] if len(snakemake.log) else None)
