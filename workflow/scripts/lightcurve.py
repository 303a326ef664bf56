from xrtflow.logs import script_log
from xrtflow.steps.lightcurves import run_lightcurve

with script_log(snakemake):
    outputs = {key: value for key, value in snakemake.output.items() if key != "record"}
    run_lightcurve(
        snakemake.params.backend,
        snakemake.wildcards.obsid,
        snakemake.input.events,
        snakemake.input.src_region,
        snakemake.input.bkg_region,
        snakemake.input.stage,
        snakemake.input.products_record,
        snakemake.params.config,
        snakemake.params.lightcurve,
        outputs,
        snakemake.output.record,
        snakemake.log[0],
    )
