"""File names used by the Swift archive, the XRT CALDB and the XRT products tasks.

Both backends write exactly these names, so downstream rules never know which backend ran.
"""

from __future__ import annotations

import re

OBSID_PATTERN = re.compile(r"^\d{11}$")

#: Mode stems used in XRT file names: photon counting (window 3) and windowed timing (window 2).
MODE_STEMS = {"PC": "xpcw3po", "WT": "xwtw2po"}


#: Placeholder accepted in place of an ObsID, so that Snakemake rules build patterns from these names.
WILDCARD = "{obsid}"


def check_obsid(obsid: str) -> str:
    """Return ``obsid`` if it is an 11-digit Swift observation ID (or ``{obsid}``), else raise."""
    obsid = str(obsid)
    if obsid != WILDCARD and not OBSID_PATTERN.match(obsid):
        raise ValueError(f"{obsid!r} is not a Swift ObsID (11 digits, e.g. 00031940001)")
    return obsid


def stem(obsid: str, mode: str = "PC") -> str:
    """``sw<obsid>xpcw3po`` for PC mode, ``sw<obsid>xwtw2po`` for WT mode."""
    try:
        return f"sw{check_obsid(obsid)}{MODE_STEMS[mode.upper()]}"
    except KeyError:
        raise ValueError(f"XRT mode {mode!r} is not one of {sorted(MODE_STEMS)}") from None


# --- archive (level 2) -------------------------------------------------------------------------
def archive_event(obsid: str, mode: str = "PC") -> str:
    """Path of the cleaned event file inside an ObsID directory of the archive."""
    return f"xrt/event/{stem(obsid, mode)}_cl.evt.gz"


def archive_attitude(obsid: str, kind: str = "pat") -> str:
    """Path of the attitude file (``sat``, ``pat`` or ``uat``) inside an ObsID directory."""
    return f"auxil/sw{check_obsid(obsid)}{kind}.fits.gz"


def archive_hk_header(obsid: str) -> str:
    """Path of the XRT housekeeping header file inside an ObsID directory."""
    return f"xrt/hk/sw{check_obsid(obsid)}xhd.hk.gz"


# --- products (xrtpipeline / xrtexpomap / xrtproducts / ftgrouppha) -----------------------------
def cleaned_events(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}_cl.evt"


def exposure_map(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}_ex.img"


def sky_image(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}_sk.img"


def source_spectrum(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}sr.pha"


def background_spectrum(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}bkg.pha"


def source_arf(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}sr.arf"


def source_rmf(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}sr.rmf"


def source_lightcurve(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}sr.lc"


def background_lightcurve(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}bkg.lc"


def grouped_spectrum(obsid: str, mode: str = "PC") -> str:
    return f"{stem(obsid, mode)}sr_grp.pha"


def source_region(obsid: str, mode: str = "PC") -> str:
    """The source region actually used for the ObsID (DS9 fk5, sizes with units): the circle, the
    annulus that excises a piled-up core, or (WT) boxes along the strip."""
    return f"{stem(obsid, mode)}_src.reg"


def background_region(obsid: str, mode: str = "PC") -> str:
    """The background region actually used for the ObsID (DS9 fk5)."""
    return f"{stem(obsid, mode)}_bkg.reg"


def corrected_lightcurve(obsid: str, mode: str = "PC") -> str:
    """The ``xrtlccorr``-style corrected source light curve (``xrtproducts correctlc=yes``)."""
    return f"{stem(obsid, mode)}sr_corr.lc"


def corrected_lightcurve_table(obsid: str, mode: str = "PC") -> str:
    """Every band and the hardness ratio of the corrected light curve, as an ECSV table."""
    return f"{stem(obsid, mode)}sr_corr_lc.ecsv"
