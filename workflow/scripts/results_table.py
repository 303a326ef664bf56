from xrtflow.logs import script_log
from xrtflow.steps.tables import results_table

with script_log(snakemake):
    results_table(
        snakemake.input.joint,
        list(snakemake.input.summaries),
        snakemake.input.selection,
        snakemake.output.ecsv,
        snakemake.output.csv,
    )
