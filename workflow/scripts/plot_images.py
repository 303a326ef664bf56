from xrtflow.logs import script_log
from xrtflow.plots import plot_image_grid

with script_log(snakemake):
    plot_image_grid(
        list(snakemake.input.images),
        snakemake.input.target,
        snakemake.input.src_region,
        snakemake.input.bkg_region,
        snakemake.params.target,
        snakemake.output[0],
    )
