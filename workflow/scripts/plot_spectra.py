from xrtflow.logs import script_log
from xrtflow.plots import plot_spectra
from xrtflow.workflow_support import fit_files

with script_log(snakemake):
    if snakemake.params.kind == "joint":
        plots, fits = [snakemake.input.plot], [snakemake.input.fit]
    else:
        # each fitted ObsID's fit.json and fit_plot.ecsv, found through its summary
        files = fit_files(list(snakemake.input.summaries))
        plots, fits = files["plots"], files["fits"]
    out = snakemake.output
    plot_spectra(
        plots, fits, snakemake.params.target, out.pdf, out.png, out.pages, snakemake.params.kind
    )
