from xrtflow.logs import script_log
from xrtflow.steps.summary import write_summary

with script_log(snakemake):
    write_summary(snakemake.wildcards.obsid, dict(snakemake.input.items()), snakemake.output[0])
