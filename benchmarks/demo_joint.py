"""The demo joint fit (T Pyx, 8 Swift-XRT PC spectra, tbabs*(bb+brems), nH tied), timed.

Run: ``OMP_NUM_THREADS=1 python benchmarks/demo_joint.py [out.json]``
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

from xrtflow.spectral.fit import FitSetup, fit
from xrtflow.spectral.ogip import read_spectrum

ROOT = Path(__file__).resolve().parent.parent
PHA = sorted((ROOT / "results/demo/tpyx/obs").glob("*/sw*xpcw3posr_grp.pha"))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    warnings.simplefilter("ignore", RuntimeWarning)
    spectra = [read_spectrum(p) for p in PHA]
    setup = FitSetup(
        spectra,
        "tbabs*(bb+brems)",
        start={"TBabs.nH": 0.22, "bbody.kT": 0.1, "bremss.kT": 1.0},
        tied=["nH"],
        statistic="cstat",
        ignore="**-0.3 7.0-**",
    )
    t = time.perf_counter()
    res = fit(setup)
    dt = time.perf_counter() - t
    rows = [
        (p.group, p.name, p.component, p.value, p.err_lo, p.err_hi)
        for p in res.parameters
        if not p.frozen and not p.tied_to
    ]
    print(f"time {dt:.2f} s  stat {res.stat:.4f}  valid {res.valid}")
    for r in rows:
        print(*r)
    for msg in res.messages:
        print("msg:", msg)
    if argv:
        Path(argv[0]).write_text(json.dumps({"time": dt, "stat": res.stat, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
