from xrtflow.logs import script_log
from xrtflow.steps.longterm import lightcurve_table

with script_log(snakemake):
    lightcurve_table(
        list(snakemake.input.lightcurves),
        snakemake.input.selection,
        snakemake.params.epoch,
        snakemake.params.lightcurve,
        snakemake.output.ecsv,
        snakemake.output.csv,
        snakemake.output.hardness,
    )
