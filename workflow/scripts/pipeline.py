from xrtflow.logs import script_log
from xrtflow.steps.processing import run_pipeline

with script_log(snakemake):
    run_pipeline(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.stage,
        snakemake.input.target,
        snakemake.params.config,
        snakemake.output[0],
        snakemake.log[0],
    )
