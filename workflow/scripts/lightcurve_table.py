from xrtflow.logs import script_log
from xrtflow.steps.longterm import lightcurve_table

with script_log(snakemake):
    lightcurve_table(
        list(snakemake.input.summaries),
        snakemake.input.selection,
        snakemake.params.epoch,
        tuple(snakemake.params.pi_range),
        snakemake.output.ecsv,
        snakemake.output.csv,
        snakemake.output.hardness,
    )
