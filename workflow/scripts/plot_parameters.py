from xrtflow.logs import script_log
from xrtflow.plots import plot_parameters

with script_log(snakemake):
    plot_parameters(
        snakemake.input[0], snakemake.params.target, snakemake.output.png, snakemake.output.pdf
    )
