from xrtflow.logs import script_log
from xrtflow.steps.catalog import select

with script_log(snakemake):
    select(
        snakemake.input[0],
        snakemake.params.target,
        snakemake.params.mode,
        snakemake.output.table,
        snakemake.output.manifest,
    )
