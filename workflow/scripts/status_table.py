from xrtflow.logs import script_log
from xrtflow.steps.tables import status_table

with script_log(snakemake):
    status_table(
        snakemake.input.selection,
        list(snakemake.input.summaries),
        snakemake.output[0],
        lightcurve_records=list(snakemake.input.lightcurves),
    )
