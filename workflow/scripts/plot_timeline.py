from xrtflow.logs import script_log
from xrtflow.plots import plot_timeline

with script_log(snakemake):
    plot_timeline(
        snakemake.input[0],
        snakemake.params.target,
        snakemake.params.mode,
        snakemake.output.png,
        snakemake.output.pdf,
    )
