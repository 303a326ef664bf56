from xrtflow.logs import script_log
from xrtflow.plots import plot_spectra

with script_log(snakemake):
    if snakemake.params.kind == "joint":
        plots, fits = [snakemake.input.plot], [snakemake.input.fit]
    else:
        plots, fits = list(snakemake.input.plots), list(snakemake.input.fits)
    out = snakemake.output
    plot_spectra(
        plots, fits, snakemake.params.target, out.pdf, out.png, out.pages, snakemake.params.kind
    )
