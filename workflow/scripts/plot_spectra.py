from xrtflow.logs import script_log
from xrtflow.plots import plot_spectra

with script_log(snakemake):
    plot_spectra(
        snakemake.input.plot, snakemake.input.fit, snakemake.params.target, snakemake.output[0]
    )
