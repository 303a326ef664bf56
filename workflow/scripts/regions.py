from xrtflow.logs import script_log
from xrtflow.products.regions import write_regions
from xrtflow.steps.catalog import read_target

with script_log(snakemake):
    _, target = read_target(snakemake.input[0])
    regions = snakemake.params.regions
    write_regions(
        target,
        regions["source_radius"],
        regions["background_inner"],
        regions["background_outer"],
        snakemake.output.source,
        snakemake.output.background,
    )
