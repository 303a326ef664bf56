from xrtflow.logs import script_log
from xrtflow.steps.processing import run_pipeline

with script_log(snakemake):
    run_pipeline(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.stage,
        snakemake.input.target,
        snakemake.params.config,
        snakemake.output.events,
        snakemake.output.record,
        snakemake.log[0],
    )
