from xrtflow.logs import script_log
from xrtflow.plots import plot_parameters

with script_log(snakemake):
    plot_parameters(
        snakemake.input.results, snakemake.params.target, snakemake.output.png, snakemake.output.pdf
    )
