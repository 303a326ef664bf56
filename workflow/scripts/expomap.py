from xrtflow.logs import script_log
from xrtflow.steps.processing import run_expomap

with script_log(snakemake):
    run_expomap(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.events,
        snakemake.input.stage,
        snakemake.input.pipeline,
        snakemake.params.config,
        snakemake.output.expomap,
        snakemake.output.record,
        snakemake.log[0],
    )
