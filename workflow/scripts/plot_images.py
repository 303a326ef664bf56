from xrtflow.logs import script_log
from xrtflow.plots import plot_image_grid, plot_last_image
from xrtflow.steps.summary import read_summaries, with_products

with script_log(snakemake):
    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    images = [p["image"] for p in products]
    regions = (snakemake.input.target, snakemake.input.src_region, snakemake.input.bkg_region)
    out = snakemake.output
    plot_image_grid(images, *regions, snakemake.params.target, out.pdf, out.png, out.pages)
    # the summaries are in selection (time) order: the last one is the latest ObsID
    plot_last_image(images[-1], *regions, snakemake.params.target, out.last_png, out.last_pdf)
