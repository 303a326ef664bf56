from xrtflow.logs import script_log
from xrtflow.plots import plot_image_grid
from xrtflow.steps.summary import read_summaries, with_products

with script_log(snakemake):
    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    plot_image_grid(
        [p["image"] for p in products],
        snakemake.input.target,
        snakemake.input.src_region,
        snakemake.input.bkg_region,
        snakemake.params.target,
        snakemake.output[0],
    )
