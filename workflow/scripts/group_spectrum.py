from xrtflow.logs import script_log
from xrtflow.steps.processing import run_group

with script_log(snakemake):
    run_group(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.src_pha,
        snakemake.input.bkg_pha,
        snakemake.input.rmf,
        snakemake.input.products_record,
        snakemake.params.config,
        snakemake.output.grouped,
        snakemake.output.record,
        snakemake.log[0],
    )
