from xrtflow.logs import script_log
from xrtflow.steps.processing import run_products

with script_log(snakemake):
    outputs = {key: value for key, value in snakemake.output.items() if key != "record"}
    run_products(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.events,
        snakemake.input.expomap,
        snakemake.input.src_region,
        snakemake.input.bkg_region,
        snakemake.input.stage,
        snakemake.input.expomap_record,
        snakemake.params.config,
        outputs,
        snakemake.output.record,
        snakemake.log[0],
    )
