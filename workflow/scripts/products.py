from xrtflow.logs import script_log
from xrtflow.steps.processing import run_products

with script_log(snakemake):
    run_products(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.events,
        snakemake.input.expomap,
        snakemake.input.src_region,
        snakemake.input.bkg_region,
        snakemake.input.stage,
        snakemake.params.config,
        dict(snakemake.output.items()),
        snakemake.log[0],
    )
