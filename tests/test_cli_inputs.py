"""``xrtflow fit`` on bad inputs: one line on stderr naming the file and the problem, exit 2.

Every case is a real file written here (FITS spectra, responses, a text file).
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from test_stats_spectra import AREA, N_CH, WIDTHS, write_diagonal_response

from xrtflow.cli import main
from xrtflow.spectral.ogip import write_spectrum


@pytest.fixture()
def case(tmp_path):
    rmf, arf = write_diagonal_response(tmp_path)
    rng = np.random.default_rng(3)
    counts = rng.poisson(20, N_CH)
    src = write_spectrum(tmp_path / "src.pha", counts, 1000.0, backscal=1.0)
    bkg = write_spectrum(tmp_path / "bkg.pha", rng.poisson(5, N_CH), 1000.0, backscal=10.0)
    for path in (src, bkg):
        for key, value in (("TELESCOP", "SWIFT"), ("INSTRUME", "XRT"), ("DATAMODE", "PHOTON")):
            fits.setval(path, key, value=value, ext=1)
    return {"dir": tmp_path, "rmf": rmf, "arf": arf, "src": src, "bkg": bkg, "counts": counts}


def run(capsys, *args):
    code = main(["fit", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def base_args(c, spectrum=None, **extra):
    args = [spectrum or c["src"], "--model", "powerlaw", "--rmf", c["rmf"], "--arf", c["arf"],
            "--ignore", "**-0.25 5.95-**", "--no-errors"]  # fmt: skip
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args


def assert_one_line_error(code, err, *needles):
    assert code == 2
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_good_input_fits(case, capsys):
    code, out, err = run(capsys, *base_args(case, background=case["bkg"]))
    assert code == 0, err
    assert "cstat =" in out


def test_not_fits(case, capsys):
    bad = case["dir"] / "notes.pha"
    bad.write_text("this is not a FITS file\n")
    code, _, err = run(capsys, *base_args(case, spectrum=bad))
    assert_one_line_error(code, err, str(bad), "not a readable FITS")


def test_fits_but_not_a_spectrum(case, capsys):
    image = case["dir"] / "image.fits"
    fits.HDUList([fits.PrimaryHDU(np.zeros((4, 4))), fits.ImageHDU(np.ones((2, 2)))]).writeto(image)
    code, _, err = run(capsys, *base_args(case, spectrum=image))
    assert_one_line_error(code, err, str(image), "not an OGIP spectrum")


def test_rmf_not_an_rmf(case, capsys):
    code, _, err = run(capsys, case["src"], "--model", "po", "--rmf", case["src"])
    assert_one_line_error(code, err, str(case["src"]), "not an RMF")


def test_response_with_other_channel_count(case, capsys):
    short = write_spectrum(case["dir"] / "short.pha", case["counts"][: N_CH // 2], 1000.0)
    code, _, err = run(capsys, *base_args(case, spectrum=short))
    assert_one_line_error(code, err, str(short), f"{N_CH // 2} channels", str(N_CH))


def test_background_from_another_mode(case, capsys):
    fits.setval(case["bkg"], "DATAMODE", value="WINDOWED", ext=1)
    code, _, err = run(capsys, *base_args(case, background=case["bkg"]))
    assert_one_line_error(code, err, str(case["bkg"]), "DATAMODE", "WINDOWED", "PHOTON")


def test_background_from_another_instrument(case, capsys):
    fits.setval(case["bkg"], "INSTRUME", value="XIS0", ext=1)
    code, _, err = run(capsys, *base_args(case, background=case["bkg"]))
    assert_one_line_error(code, err, str(case["bkg"]), "INSTRUME")


def test_all_zero_spectrum(case, capsys):
    zero = write_spectrum(case["dir"] / "zero.pha", np.zeros(N_CH), 1000.0)
    code, _, err = run(capsys, *base_args(case, spectrum=zero))
    assert_one_line_error(code, err, str(zero), "no counts")


@pytest.mark.parametrize("ignore", ["abc-def", "0.3-0.5-0.7", "1.0-x"])
def test_ignore_that_does_not_parse(case, capsys, ignore):
    args = base_args(case)
    args[args.index("--ignore") + 1] = ignore
    code, _, err = run(capsys, *args)
    assert_one_line_error(code, err, "--ignore", ignore)


def test_ignore_that_leaves_nothing(case, capsys):
    args = base_args(case)
    args[args.index("--ignore") + 1] = "**-**"
    code, _, err = run(capsys, *args)
    assert_one_line_error(code, err, str(case["src"]), "no channel left")


@pytest.mark.parametrize(
    ("option", "value", "hint"),
    [("start", "PhoIndx=2", "PhoIndex"), ("freeze", "nrom", "norm"), ("start", "7=1", "")],
)
def test_unknown_parameter_names(case, capsys, option, value, hint):
    code, _, err = run(capsys, *base_args(case, **{option: value}))
    name = value.split("=")[0]
    assert_one_line_error(code, err, f"--{option}", name, hint)


def test_unknown_model_component(case, capsys):
    args = base_args(case)
    args[args.index("--model") + 1] = "tbabs*nosuchmodel"
    code, _, err = run(capsys, *args)
    assert_one_line_error(code, err, "--model", "nosuchmodel")


def test_every_parameter_frozen_reports_the_statistic(case, capsys):
    """Nothing to fit: exit 0 and the Cash statistic of the given values, computed by hand."""
    norm = 1e-2
    code, out, err = run(capsys, *base_args(case, start=f"1=0,2={norm}", freeze="1,2"))
    assert code == 0, err
    # XSPEC ignores the channels that contain the range ends: "**-0.25 5.95-**" on the 0.1-keV
    # grid starting at 0.1 keV leaves the channels 0.3-5.9 keV
    lo = np.arange(N_CH) * 0.1 + 0.1
    keep = (lo > 0.25) & (lo + 0.1 < 5.95)
    s = case["counts"][keep].astype(float)
    mc = 1000.0 * norm * AREA * WIDTHS[keep]
    cash = 2 * np.sum(mc - s + np.where(s > 0, s * np.log(np.where(s > 0, s, 1) / mc), 0))
    line = next(x for x in out.splitlines() if x.startswith("cstat ="))
    assert float(line.split()[2]) == pytest.approx(cash, rel=1e-6)
    assert "every parameter is frozen" in out


def test_missing_file_named_in_header(case, capsys):
    src = write_spectrum(case["dir"] / "hdr.pha", case["counts"], 1000.0, ancrfile="gone.arf")
    code, _, err = run(capsys, src, "--model", "po", "--rmf", case["rmf"])
    assert_one_line_error(code, err, "ANCRFILE", "gone.arf", str(src))


def test_missing_explicit_file(case, capsys):
    gone = case["dir"] / "nothere.rmf"
    code, _, err = run(capsys, case["src"], "--model", "po", "--rmf", gone)
    assert_one_line_error(code, err, str(gone), "does not exist")


@pytest.mark.parametrize("name", ["../outside.arf", "/etc/outside.arf"])
def test_header_file_outside_the_spectrum_directory_is_refused(case, capsys, name):
    # the file exists, but a header keyword may not lead out of the spectrum's directory
    sub = case["dir"] / "sub"
    sub.mkdir()
    (case["dir"] / "outside.arf").write_bytes(case["arf"].read_bytes())
    src = write_spectrum(sub / "hdr.pha", case["counts"], 1000.0, ancrfile=name)
    code, _, err = run(capsys, src, "--model", "po", "--rmf", case["rmf"])
    assert_one_line_error(code, err, "ANCRFILE", name, "pass the ARF file explicitly")
