from xrtflow.logs import script_log
from xrtflow.products.regions import write_regions
from xrtflow.steps.catalog import read_target
from xrtflow.steps.files import atomic_path

with script_log(snakemake):
    _, target = read_target(snakemake.input[0])
    regions = snakemake.params.regions
    with (
        atomic_path(snakemake.output.source) as source,
        atomic_path(snakemake.output.background) as background,
    ):
        write_regions(
            target,
            regions["source_radius"],
            regions["background_inner"],
            regions["background_outer"],
            source,
            background,
        )
