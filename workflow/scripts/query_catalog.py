from xrtflow.logs import script_log
from xrtflow.steps.catalog import query_catalog

with script_log(snakemake):
    query_catalog(
        snakemake.input.target,
        snakemake.params.archive,
        snakemake.params.radius_arcmin,
        snakemake.output[0],
    )
