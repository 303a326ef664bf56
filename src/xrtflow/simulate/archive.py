"""Write the demo archive: per-ObsID event/attitude/HK files, catalog, truth table and CALDB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from xrtflow import calibration, naming
from xrtflow.simulate.attitude import attitude_hdu, hk_header_hdu
from xrtflow.simulate.config import PC_FRAME_TIME, DemoConfig
from xrtflow.simulate.events import (
    MJDREFF,
    MJDREFI,
    SKY_CENTER,
    SimulatedObservation,
    mjd_from_met,
    simulate_observation,
)
from xrtflow.simulate.fitsio import SIMULATED_NOTE, fits_date, write_fits
from xrtflow.simulate.response import SyntheticResponse, write_caldb
from xrtflow.simulate.spectrum import PhotonFlux, model_photon_flux

CATALOG_NAME = "catalog.ecsv"
TRUTH_NAME = "truth.ecsv"


def _common_keywords(obs: SimulatedObservation, config: DemoConfig) -> dict:
    spec = obs.spec
    mjd0, mjd1 = mjd_from_met([obs.tstart, obs.tstop])
    return {
        "TELESCOP": ("SWIFT", "Telescope (mission) name"),
        "INSTRUME": ("XRT", "Instrument name"),
        "DATAMODE": ("PHOTON", "Instrument data mode"),
        "OBS_MODE": ("POINTING", "Observation mode"),
        "OBS_ID": (spec.obsid, "Observation ID"),
        "TARG_ID": (int(spec.obsid[:8]), "Target ID"),
        "SEG_NUM": (int(spec.obsid[8:]), "Segment number"),
        "OBJECT": (config.target, "Object name"),
        "RA_PNT": (obs.pointing.ra, "[deg] RA of the nominal pointing"),
        "DEC_PNT": (obs.pointing.dec, "[deg] Dec of the nominal pointing"),
        "PA_PNT": (obs.pointing.roll, "[deg] Roll of the nominal pointing"),
        "RA_NOM": (obs.pointing.ra, "[deg] nominal RA (sky pixel 500.5)"),
        "DEC_NOM": (obs.pointing.dec, "[deg] nominal Dec (sky pixel 500.5)"),
        "PA_NOM": (obs.pointing.roll, "[deg] Roll of the nominal pointing"),
        "RA_OBJ": (config.ra, "[deg] RA of the target"),
        "DEC_OBJ": (config.dec, "[deg] Dec of the target"),
        "EQUINOX": (2000.0, "Equinox of the coordinates"),
        "RADECSYS": ("FK5", "Coordinate reference frame"),
        "MJDREFI": (MJDREFI, "MJD reference day (integer part)"),
        "MJDREFF": (MJDREFF, "MJD reference (fraction of day)"),
        "TIMESYS": ("TT", "Time system"),
        "TIMEREF": ("LOCAL", "Reference frame for the times"),
        "TIMEUNIT": ("s", "Unit of time keywords"),
        "TASSIGN": ("SATELLITE", "Where times are assigned"),
        "CLOCKAPP": (True, "Clock correction applied"),
        "TSTART": (obs.tstart, "[s] Start time (MET)"),
        "TSTOP": (obs.tstop, "[s] Stop time (MET)"),
        "TELAPSE": (round(obs.tstop - obs.tstart, 4), "[s] TSTOP - TSTART"),
        "DATE-OBS": (fits_date(mjd0), "UTC start of the observation"),
        "DATE-END": (fits_date(mjd1), "UTC end of the observation"),
        "XRTVSUB": (6, "Substrate voltage setting"),
        "ATTFLAG": ("110", "Attitude: pat (corrected)"),
        "SIMULATD": (True, "Synthetic data written by xrtflow.simulate"),
    }


def _apply(header: fits.Header, keywords: dict) -> None:
    for k, v in keywords.items():
        header[k] = v
    header["COMMENT"] = SIMULATED_NOTE


def event_hdulist(obs: SimulatedObservation, config: DemoConfig) -> fits.HDUList:
    """Primary + EVENTS + GTI + BADPIX for one simulated ObsID (layout of docs/architecture.md)."""
    common = _common_keywords(obs, config)
    ev = obs.events
    formats = {
        "TIME": ("D", "s"),
        "X": ("I", "pixel"),
        "Y": ("I", "pixel"),
        "RAWX": ("I", "pixel"),
        "RAWY": ("I", "pixel"),
        "DETX": ("I", "pixel"),
        "DETY": ("I", "pixel"),
        "PHA": ("J", "chan"),
        "PI": ("J", "chan"),
        "GRADE": ("I", ""),
    }
    cols = [
        fits.Column(name, f, unit=u or None, array=ev[name]) for name, (f, u) in formats.items()
    ]
    events = fits.BinTableHDU.from_columns(cols, name="EVENTS")
    h = events.header
    _apply(h, common)
    h["HDUCLASS"] = ("OGIP", "Format conforms to OGIP/GSFC standards")
    h["HDUCLAS1"] = ("EVENTS", "Extension contains events")
    h["HDUCLAS2"] = ("ACCEPTED", "Cleaned (level 2) events")
    exposure = obs.exposure
    h["EXPOSURE"] = (exposure, "[s] Exposure time")
    h["ONTIME"] = (exposure, "[s] Sum of GTIs")
    h["LIVETIME"] = (exposure, "[s] Dead-time corrected ONTIME")
    h["DEADC"] = (1.0, "Dead time correction")
    h["TIMEDEL"] = (PC_FRAME_TIME, "[s] Frame time")
    h["TIMEPIXR"] = (0.5, "Times are frame mid-points")
    limits = {
        "X": (1, 1000),
        "Y": (1, 1000),
        "RAWX": (0, 599),
        "RAWY": (0, 599),
        "DETX": (1, 600),
        "DETY": (1, 600),
        "PHA": (0, 4095),
        "PI": (0, 1023),
        "GRADE": (0, 32),
    }
    names = list(formats)
    for name, (lo, hi) in limits.items():
        i = names.index(name) + 1
        h[f"TLMIN{i}"] = lo
        h[f"TLMAX{i}"] = hi
    for name, ctype, crval, cdelt in (
        ("X", "RA---TAN", obs.pointing.ra, -calibration.PIXEL_DEG),
        ("Y", "DEC--TAN", obs.pointing.dec, calibration.PIXEL_DEG),
    ):
        i = names.index(name) + 1
        h[f"TCTYP{i}"] = (ctype, "Sky coordinate projection")
        h[f"TCRVL{i}"] = (crval, "[deg] Reference value (nominal pointing)")
        h[f"TCRPX{i}"] = (SKY_CENTER, "Reference pixel")
        h[f"TCDLT{i}"] = (cdelt, "[deg] Pixel size")
        h[f"TCUNI{i}"] = ("deg", "Units of the sky coordinate")
    h["PHA_BINS"] = (4096, "Number of PHA channels")
    h["PI_BINS"] = (1024, "Number of PI channels (10 eV)")
    # Data-subspace keywords as xrtpipeline's screening (xselect/extractor) leaves them: the grade
    # and PI selections and the GTI table. xrtmkarf reads the grade selection (propagated into
    # the spectrum) to choose its CALDB files and stops without it.
    for n, (typ, unit, val, ref) in enumerate(
        (
            ("GRADE", None, "0:12", None),
            ("PI", "chan", "0:1023", None),
            ("TIME", "s", "TABLE", ":GTI"),
        ),
        start=1,
    ):
        h[f"DSTYP{n}"] = (typ, "Data subspace descriptor: name")
        if unit:
            h[f"DSUNI{n}"] = (unit, "Data subspace descriptor: units")
        h[f"DSVAL{n}"] = (val, "Data subspace descriptor: value")
        if ref:
            h[f"DSREF{n}"] = (ref, "Data subspace descriptor: reference")

    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=obs.gtis[:, 0]),
            fits.Column("STOP", "D", unit="s", array=obs.gtis[:, 1]),
        ],
        name="GTI",
    )
    _apply(gti.header, common)
    gti.header["HDUCLASS"] = ("OGIP", "Format conforms to OGIP/GSFC standards")
    gti.header["HDUCLAS1"] = ("GTI", "Extension contains good time intervals")
    gti.header["HDUCLAS2"] = ("STANDARD", "Standard GTI")

    nb = len(obs.bad_columns)
    badpix = fits.BinTableHDU.from_columns(
        [
            fits.Column("RAWX", "I", array=obs.bad_columns.astype(np.int16)),
            fits.Column("RAWY", "I", array=np.zeros(nb, dtype=np.int16)),
            fits.Column("Amp", "I", array=np.zeros(nb, dtype=np.int16)),
            fits.Column("TYPE", "I", array=np.full(nb, 2, dtype=np.int16)),
            fits.Column("YEXTENT", "I", array=np.full(nb, 600, dtype=np.int16)),
            fits.Column("BADFLAG", "I", array=np.full(nb, 2, dtype=np.int16)),
        ],
        name="BADPIX",
    )
    _apply(badpix.header, common)
    badpix.header["HDUCLASS"] = ("OGIP", "Format conforms to OGIP/GSFC standards")
    badpix.header["HDUCLAS1"] = ("BADPIX", "Bad pixel list")
    badpix.header["COMMENT"] = "TYPE 2 = bad column (RAWY 0 .. RAWY+YEXTENT-1)"

    primary = fits.PrimaryHDU()
    _apply(primary.header, common)
    return fits.HDUList([primary, events, gti, badpix])


def _write_observation(
    obs: SimulatedObservation, config: DemoConfig, archive: Path, rng
) -> dict[str, Path]:
    obsid = obs.spec.obsid
    base = archive / obsid
    date = fits_date(float(mjd_from_met(obs.tstop)) + 0.25)
    paths = {
        "event": write_fits(event_hdulist(obs, config), base / naming.archive_event(obsid), date)
    }
    common = _common_keywords(obs, config)
    att = attitude_hdu(obs.pointing, obs.gtis, {})
    _apply(att.header, common)
    att.header["ATTFLAG"] = ("110", "Attitude corrected (pat)")
    prim = fits.PrimaryHDU()
    _apply(prim.header, common)
    paths["attitude"] = write_fits(
        fits.HDUList([prim, att]), base / naming.archive_attitude(obsid), date
    )
    hk = hk_header_hdu(obs.pointing, obs.gtis, {}, rng)
    _apply(hk.header, common)
    prim = fits.PrimaryHDU()
    _apply(prim.header, common)
    paths["hk"] = write_fits(fits.HDUList([prim, hk]), base / naming.archive_hk_header(obsid), date)
    return paths


def _photon_flux_for(config: DemoConfig, params: dict[str, float]) -> PhotonFlux:
    if config.photon_flux is not None:
        f = config.photon_flux
        return f if isinstance(f, PhotonFlux) else PhotonFlux(f, "custom photon_flux")
    return model_photon_flux(config.model, list(params.values()))


def catalog_table(observations: list[SimulatedObservation], config: DemoConfig) -> Table:
    """``swiftmastr``-like table of the simulated ObsIDs."""
    rows = []
    for obs in observations:
        mjd0, mjd1 = (float(v) for v in mjd_from_met([obs.tstart, obs.tstop]))
        rows.append(
            (
                obs.spec.obsid,
                config.target,
                config.ra,
                config.dec,
                round(mjd0, 8),
                round(mjd1, 8),
                obs.exposure,
                round(obs.exposure * 0.96, 1),
                round(obs.exposure * 1.03 + 40.0, 1),
                obs.exposure,
                0.0,
                round(mjd1 + 0.3, 5),
                round(mjd1 + 7.0, 5),
                int(obs.spec.obsid[:8]),
                int(obs.spec.obsid[8:]),
                "pointing",
            )
        )
    names = (
        "obsid",
        "name",
        "ra",
        "dec",
        "start_time",
        "stop_time",
        "xrt_exposure",
        "uvot_exposure",
        "bat_exposure",
        "xrt_expo_pc",
        "xrt_expo_wt",
        "processing_date",
        "archive_date",
        "target_id",
        "obs_segment",
        "pointing_mode",
    )
    t = Table(rows=rows, names=names)
    t["obsid"] = t["obsid"].astype("U11")
    units = {
        "ra": "deg",
        "dec": "deg",
        "start_time": "d",
        "stop_time": "d",
        "xrt_exposure": "s",
        "uvot_exposure": "s",
        "bat_exposure": "s",
        "xrt_expo_pc": "s",
        "xrt_expo_wt": "s",
        "processing_date": "d",
        "archive_date": "d",
    }
    for k, u in units.items():
        t[k].unit = u
    t.meta["description"] = "SIMULATED swiftmastr-like catalog written by xrtflow.simulate"
    t.meta["time_format"] = "start_time, stop_time, processing_date, archive_date are MJD (UTC)"
    return t


def truth_table(observations: list[SimulatedObservation], config: DemoConfig, exact: bool) -> Table:
    """Injected parameters and simulation bookkeeping per ObsID."""
    t = Table()
    t["obsid"] = [o.spec.obsid for o in observations]
    t["role"] = [o.spec.role for o in observations]
    t["day"] = [o.spec.day for o in observations]
    t["mjd_start"] = [float(mjd_from_met(o.tstart)) for o in observations]
    t["exposure"] = [o.exposure for o in observations]
    t["n_snapshots"] = [len(o.gtis) for o in observations]
    t["ra_pnt"] = [o.pointing.ra for o in observations]
    t["dec_pnt"] = [o.pointing.dec for o in observations]
    t["pa_pnt"] = [o.pointing.roll for o in observations]
    t["offaxis_arcmin"] = [o.offaxis_arcmin for o in observations]
    for name in config.parameters:
        t[name] = [o.parameters[name] for o in observations]
    t["expected_rate_03_7"] = [o.expected_rate_03_7 for o in observations]
    t["expected_source"] = [o.expected_source for o in observations]
    t["n_source"] = [o.n_source for o in observations]
    t["n_background"] = [o.n_background for o in observations]
    t["background_rate"] = [config.background_rate] * len(observations)
    t["bad_columns"] = [" ".join(str(c) for c in o.bad_columns) for o in observations]
    if config.pileup or any(o.spec.flux_scale != 1.0 for o in observations):
        # only then: the default archive's truth table keeps its columns
        t["flux_scale"] = [o.spec.flux_scale for o in observations]
        stats = [o.extra.get("pileup") for o in observations]
        t["n_photons_piled"] = [s.n_photons_merged if s else 0 for s in stats]
        t["n_rejected_piled"] = [s.n_rejected_grade + s.n_rejected_pi if s else 0 for s in stats]
    for k, u in {
        "day": "d",
        "mjd_start": "d",
        "exposure": "s",
        "ra_pnt": "deg",
        "dec_pnt": "deg",
        "pa_pnt": "deg",
        "offaxis_arcmin": "arcmin",
        "expected_rate_03_7": "ct / s",
        "background_rate": "ct / (s arcmin2)",
    }.items():
        t[k].unit = u
    t.meta.update(
        {
            "description": "Injected (true) parameters of the SIMULATED xrtflow demo archive",
            "target": config.target,
            "ra": config.ra,
            "dec": config.dec,
            "discovery_mjd": config.discovery_mjd,
            "model": config.model if config.photon_flux is None else "custom photon_flux",
            "parameter_order": list(config.parameters),
            "abund": "wilm",
            "xsect": "vern",
            "model_exact": bool(exact),
            "seed": config.seed,
            "expected_rate_03_7": "source count/s in PI 30-699 for the full PSF incl. vignetting",
            "pileup": bool(config.pileup),
        }
    )
    return t


def make_demo_archive(
    outdir: str | Path, config: DemoConfig | None = None, progress: bool = True
) -> Table:
    """Write a complete offline demo archive under ``outdir`` and return its catalog.

    Writes ``archive/<obsid>/xrt/event/sw<obsid>xpcw3po_cl.evt.gz``,
    ``archive/<obsid>/auxil/sw<obsid>pat.fits.gz``, ``archive/<obsid>/xrt/hk/sw<obsid>xhd.hk.gz``,
    ``catalog.ecsv`` (swiftmastr-like), ``truth.ecsv`` (injected parameters) and ``caldb/``
    (CALDB-like tree with ``data/swift/xrt/index/caldb.indx``). Deterministic: the same config
    gives byte-identical files.

    Parameters
    ----------
    outdir : path-like
        Output directory (created).
    config : DemoConfig, optional
        Defaults to ``DemoConfig()`` (T Pyx, 8 ObsIDs in days 142-149 + 3 outliers).
    progress : bool
        Show a progress bar over ObsIDs.

    Returns
    -------
    astropy.table.Table
        The catalog (also written to ``outdir/catalog.ecsv``).
    """
    from tqdm.auto import tqdm

    config = config or DemoConfig()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    response = SyntheticResponse.build()
    write_caldb(outdir / "caldb", response)
    archive = outdir / "archive"
    observations = []
    exact = True
    for spec in tqdm(config.observation_specs(), desc="simulate", unit="obs", disable=not progress):
        rng = np.random.default_rng([config.seed, int(spec.obsid)])
        flux = _photon_flux_for(config, config.parameters_at(spec.day))
        exact = exact and flux.exact
        obs = simulate_observation(spec, config, response, flux, rng)
        _write_observation(obs, config, archive, rng)
        observations.append(obs)
    catalog = catalog_table(observations, config)
    catalog.write(outdir / CATALOG_NAME, format="ascii.ecsv", overwrite=True)
    truth_table(observations, config, exact).write(
        outdir / TRUTH_NAME, format="ascii.ecsv", overwrite=True
    )
    return catalog
