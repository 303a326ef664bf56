from xrtflow.logs import script_log
from xrtflow.steps.files import atomic_path
from xrtflow.steps.summary import placeholder_figure, read_summaries, with_products

with script_log(snakemake), atomic_path(snakemake.output[0]) as output:
    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    if not products:
        placeholder_figure(output, snakemake.params.target, "images")
    else:
        from xrtflow.plots import plot_image_grid

        plot_image_grid(
            [p["image"] for p in products],
            snakemake.input.target,
            snakemake.input.src_region,
            snakemake.input.bkg_region,
            snakemake.params.target,
            output,
        )
