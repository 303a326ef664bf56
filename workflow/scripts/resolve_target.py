from xrtflow.logs import script_log
from xrtflow.steps.catalog import resolve_target

with script_log(snakemake):
    resolve_target(snakemake.params.target, snakemake.output[0])
