from xrtflow.logs import script_log
from xrtflow.plots import plot_lightcurves

with script_log(snakemake):
    plot_lightcurves(
        list(snakemake.input.source),
        list(snakemake.input.background),
        list(snakemake.input.src_pha),
        list(snakemake.input.bkg_pha),
        snakemake.params.target,
        snakemake.output[0],
    )
