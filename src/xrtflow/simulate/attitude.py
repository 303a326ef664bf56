"""Tangent-plane geometry, the simulated spacecraft pointing, and the attitude/HK files."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from scipy.spatial.transform import Rotation

from xrtflow.simulate.config import PC_FRAME_TIME


def tan_project(ra, dec, ra0, dec0) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (FITS ``TAN``) projection of (ra, dec) about (ra0, dec0); all in degrees.

    Returns the intermediate world coordinates (xi towards +RA/East, eta towards North) in
    degrees, identical to FITS TAN with the reference point at (ra0, dec0).
    """
    a, d = np.radians(ra), np.radians(dec)
    a0, d0 = np.radians(ra0), np.radians(dec0)
    cosc = np.sin(d) * np.sin(d0) + np.cos(d) * np.cos(d0) * np.cos(a - a0)
    xi = np.cos(d) * np.sin(a - a0) / cosc
    eta = (np.sin(d) * np.cos(d0) - np.cos(d) * np.sin(d0) * np.cos(a - a0)) / cosc
    return np.degrees(xi), np.degrees(eta)


def tan_deproject(xi, eta, ra0, dec0) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`tan_project` (degrees in, degrees out)."""
    x, y = np.radians(xi), np.radians(eta)
    a0, d0 = np.radians(ra0), np.radians(dec0)
    denom = np.cos(d0) - y * np.sin(d0)
    a = a0 + np.arctan2(x, denom)
    d = np.arctan2(np.sin(d0) + y * np.cos(d0), np.hypot(x, denom))
    return np.degrees(a) % 360.0, np.degrees(d)


def offset_position(ra, dec, r_deg, pa_deg) -> tuple[np.ndarray, np.ndarray]:
    """Position at tangent-plane distance ``r_deg`` and position angle ``pa_deg`` (E of N)."""
    pa = np.radians(pa_deg)
    return tan_deproject(r_deg * np.sin(pa), r_deg * np.cos(pa), ra, dec)


@dataclass(frozen=True)
class Pointing:
    """Spacecraft pointing during one ObsID.

    The pointing direction is the nominal one, shifted by a fixed re-pointing offset per
    snapshot and a smooth two-axis wander of amplitude ``jitter_arcsec`` (sum of two sinusoids
    per axis). Roll is constant within the ObsID.
    """

    ra: float
    dec: float
    roll: float
    gti_start: np.ndarray
    snap_dxi: np.ndarray  # arcsec, per snapshot
    snap_deta: np.ndarray
    jitter_arcsec: float
    periods: np.ndarray  # (2 axes, 2 terms) s
    phases: np.ndarray  # (2, 2) rad

    @classmethod
    def random(
        cls,
        ra: float,
        dec: float,
        roll: float,
        gti_start: np.ndarray,
        rng: np.random.Generator,
        jitter_arcsec: float,
        scatter_arcsec: float,
    ) -> Pointing:
        n = len(gti_start)
        return cls(
            ra=float(ra),
            dec=float(dec),
            roll=float(roll),
            gti_start=np.asarray(gti_start, dtype=float),
            snap_dxi=rng.normal(0.0, scatter_arcsec, n),
            snap_deta=rng.normal(0.0, scatter_arcsec, n),
            jitter_arcsec=float(jitter_arcsec),
            periods=rng.uniform(60.0, 400.0, (2, 2)),
            phases=rng.uniform(0.0, 2 * np.pi, (2, 2)),
        )

    def offsets_arcsec(self, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tangent-plane offset (xi, eta; arcsec) of the pointing from nominal at ``time``."""
        t = np.asarray(time, dtype=float)
        k = np.clip(
            np.searchsorted(self.gti_start, t, side="right") - 1, 0, len(self.gti_start) - 1
        )
        amp = self.jitter_arcsec / 2.0
        wob = [
            amp
            * (
                np.sin(2 * np.pi * t / self.periods[i, 0] + self.phases[i, 0])
                + np.sin(2 * np.pi * t / self.periods[i, 1] + self.phases[i, 1])
            )
            for i in range(2)
        ]
        return self.snap_dxi[k] + wob[0], self.snap_deta[k] + wob[1]

    def at(self, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pointing (ra, dec) in degrees at ``time``."""
        dxi, deta = self.offsets_arcsec(time)
        return tan_deproject(dxi / 3600.0, deta / 3600.0, self.ra, self.dec)

    def snapshot_direction(self, k: int) -> tuple[float, float]:
        """Mean pointing direction of snapshot ``k``."""
        ra, dec = tan_deproject(
            self.snap_dxi[k] / 3600.0, self.snap_deta[k] / 3600.0, self.ra, self.dec
        )
        return float(ra), float(dec)


def quaternion(ra, dec, roll) -> np.ndarray:
    """Attitude quaternions (x, y, z, w) from ZYZ Euler angles (RA, 90 - Dec, 90 + roll)."""
    ra, dec, roll = np.broadcast_arrays(
        np.asarray(ra, float), np.asarray(dec, float), np.asarray(roll, float)
    )
    euler = np.stack([ra, 90.0 - dec, 90.0 + roll], axis=-1)
    return (
        Rotation.from_euler("ZYZ", euler.reshape(-1, 3), degrees=True)
        .as_quat()
        .reshape(*ra.shape, 4)
    )


def attitude_hdu(
    pointing: Pointing, gtis: np.ndarray, keywords: dict, step: float = 1.0
) -> fits.BinTableHDU:
    """``ATTITUDE`` extension sampled every ``step`` s from 30 s before to 30 s after each GTI."""
    times = np.concatenate(
        [np.arange(start - 30.0, stop + 30.0 + step / 2, step) for start, stop in gtis]
    )
    ra, dec = pointing.at(times)
    roll = np.full(times.size, pointing.roll)
    q = quaternion(ra, dec, roll)
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("TIME", "D", unit="s", array=times),
            fits.Column("POINTING", "3E", unit="deg", array=np.stack([ra, dec, roll], axis=1)),
            fits.Column("QPARAM", "4D", array=q),
        ],
        name="ATTITUDE",
    )
    for k, v in keywords.items():
        hdu.header[k] = v
    hdu.header["TSTART"] = (float(times[0]), "Start time")
    hdu.header["TSTOP"] = (float(times[-1]), "Stop time")
    hdu.header["ATTFLAG"] = ("110", "Attitude corrected (pat)")
    hdu.header["COMMENT"] = "Quaternions: ZYZ Euler angles (RA, 90-DEC, 90+ROLL), scalar last"
    return hdu


def hk_header_hdu(
    pointing: Pointing, gtis: np.ndarray, keywords: dict, rng: np.random.Generator
) -> fits.BinTableHDU:
    """``FRAME`` extension of the XRT header housekeeping file: one row per PC frame."""
    starts = np.concatenate([np.arange(a, b - 1e-6, PC_FRAME_TIME) for a, b in gtis])
    n = starts.size
    ra, dec = pointing.at(starts + PC_FRAME_TIME / 2)
    hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("TIME", "D", unit="s", array=starts),
            fits.Column("ENDTIME", "D", unit="s", array=starts + PC_FRAME_TIME),
            fits.Column("CCDFrame", "J", array=np.arange(n, dtype=np.int32) + 1000),
            fits.Column("XRTMode", "B", array=np.full(n, 7, dtype=np.uint8)),
            fits.Column("WaveID", "B", array=np.full(n, 30, dtype=np.uint8)),
            fits.Column("Settled", "B", array=np.ones(n, dtype=np.uint8)),
            fits.Column("In10Arcm", "B", array=np.ones(n, dtype=np.uint8)),
            fits.Column("InSAA", "B", array=np.zeros(n, dtype=np.uint8)),
            fits.Column("CCDTemp", "E", unit="C", array=-60.0 + rng.normal(0.0, 0.3, n)),
            fits.Column("RA", "E", unit="deg", array=ra),
            fits.Column("Dec", "E", unit="deg", array=dec),
            fits.Column("Roll", "E", unit="deg", array=np.full(n, pointing.roll)),
        ],
        name="FRAME",
    )
    for k, v in keywords.items():
        hdu.header[k] = v
    hdu.header["TSTART"] = (float(starts[0]) if n else 0.0, "Start time")
    hdu.header["TSTOP"] = (float(starts[-1] + PC_FRAME_TIME) if n else 0.0, "Stop time")
    hdu.header["COMMENT"] = "XRTMode 7 = photon counting"
    return hdu
