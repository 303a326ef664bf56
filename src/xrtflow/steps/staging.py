"""Step: make one ObsID's level-2 files available and verified, or record why they are not."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import naming

log = logging.getLogger(__name__)


class StagingError(RuntimeError):
    """An ObsID's files are missing, incomplete or unreadable."""


def required_files(obsid: str, mode: str) -> dict[str, str]:
    """Files inside an ObsID directory that XRT processing needs (relative paths)."""
    return {
        "event_file": naming.archive_event(obsid, mode),
        "attitude_file": naming.archive_attitude(obsid, "pat"),
        "hk_file": naming.archive_hk_header(obsid),
    }


def check_fits(path: Path, obsid: str) -> None:
    """Raise :class:`StagingError` unless ``path`` is complete (gzip CRC, FITS sizes, checksums)."""
    from ..download import CorruptFileError, verify_file

    if not path.exists():
        raise StagingError(
            f"ObsID {obsid}: {path} is missing: restore it (or delete the download) or exclude "
            "the ObsID"
        )
    try:
        verify_file(path)
    except CorruptFileError as err:
        raise StagingError(
            f"ObsID {obsid}: {path} is damaged ({err}); fetch it again or exclude the ObsID"
        ) from err


def _missing_event_file(obs_dir: Path, obsid: str, mode: str, path: Path) -> StagingError:
    """The error for an ObsID without cleaned events in ``mode`` (says what the archive has)."""
    others = sorted(p.name for p in (obs_dir / "xrt" / "event").glob("*_cl.evt*"))
    if not others:
        return StagingError(
            f"ObsID {obsid}: no XRT cleaned event file in {obs_dir / 'xrt' / 'event'}"
        )
    return StagingError(
        f"ObsID {obsid}: no {mode}-mode data ({path.name} is missing; the archive has "
        f"{', '.join(others)}): exclude the ObsID or set mode"
    )


def stage_observation(
    obsid: str,
    archive: dict,
    mode: str,
    start_time_mjd: float,
    output: str | Path,
    log_path: str | Path | None = None,
) -> dict:
    """Find (local archive) or download (HEASARC/AWS) the ObsID's files; write ``stage.json``.

    Never raises for a bad ObsID: the failure goes into the JSON (``status: failed``) so that the
    other ObsIDs carry on and the status table says what went wrong.
    """
    from .files import write_json

    root = Path(archive["path"])
    info: dict = {"obsid": obsid, "stage": "stage", "source": archive["source"], "status": "ok"}
    try:
        if archive["source"] != "local":
            from ..download import download_observation

            download_observation(
                obsid,
                start_time_mjd,
                root,
                source=archive["source"],
                base_url=archive.get("url"),
                progress=False,
            )
        obs_dir = root / obsid
        if not obs_dir.is_dir():
            raise StagingError(f"ObsID {obsid}: no directory {obs_dir} in the archive")
        # Paths as configured (not resolved): the record is the same wherever the run happens.
        info["obs_dir"] = str(obs_dir)
        for key, relative in required_files(obsid, mode).items():
            path = obs_dir / relative
            if key == "attitude_file" and not path.exists():
                # The pipeline picks the attitude file from ATTFLAG; any of them will do to stage.
                alternatives = sorted(obs_dir.glob(f"auxil/sw{obsid}?at.fits*"))
                path = alternatives[0] if alternatives else path
            if key == "event_file" and not path.exists():
                raise _missing_event_file(obs_dir, obsid, mode, path)
            check_fits(path, obsid)
            info[key] = str(path)
    except Exception as err:  # one bad ObsID must not stop the others
        log.error("%s", err)
        message = str(err) if isinstance(err, StagingError) else f"{type(err).__name__}: {err}"
        info = {
            "obsid": obsid,
            "stage": "stage",
            "source": archive["source"],
            "status": "failed",
            "failed_at": "stage",
            "message": message,
            "log": str(log_path or ""),
        }
    else:
        log.info("ObsID %s staged from %s", obsid, info["obs_dir"])
    write_json(output, info)
    return info
