from xrtflow.logs import script_log
from xrtflow.steps.staging import stage_observation

with script_log(snakemake):
    stage_observation(
        snakemake.wildcards.obsid,
        snakemake.params.archive,
        snakemake.params.mode,
        snakemake.params.start_time,
        snakemake.output[0],
        snakemake.log[0],
    )
