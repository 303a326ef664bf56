from xrtflow.logs import script_log
from xrtflow.plots import plot_lightcurve

with script_log(snakemake):
    plot_lightcurve(
        snakemake.input.lightcurve,
        snakemake.input.hardness,
        snakemake.params.target,
        snakemake.output.png,
        snakemake.output.pdf,
    )
