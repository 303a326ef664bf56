from xrtflow.logs import script_log
from xrtflow.steps.summary import read_summaries, with_products

with script_log(snakemake):
    from xrtflow.plots import plot_image_grid, plot_last_image
    from xrtflow.plots.style import nothing_to_show

    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    out, target = snakemake.output, snakemake.params.target
    if not products:
        nothing_to_show(target, "images", out.pdf, out.png, out.pages)
        nothing_to_show(target, "image", out.last_pdf, out.last_png)
    else:
        images = [p["image"] for p in products]
        regions = (snakemake.input.target, snakemake.input.src_region, snakemake.input.bkg_region)
        plot_image_grid(images, *regions, target, out.pdf, out.png, out.pages)
        # the summaries are in selection (time) order: the last one is the latest ObsID
        plot_last_image(images[-1], *regions, target, out.last_png, out.last_pdf)
