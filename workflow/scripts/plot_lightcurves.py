from xrtflow.logs import script_log
from xrtflow.steps.files import atomic_path
from xrtflow.steps.summary import placeholder_figure, read_summaries, with_products

with script_log(snakemake), atomic_path(snakemake.output[0]) as output:
    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    if not products:
        placeholder_figure(output, snakemake.params.target, "light curves")
    else:
        from xrtflow.plots import plot_lightcurves

        plot_lightcurves(
            [p["src_lc"] for p in products],
            [p["bkg_lc"] for p in products],
            [p["src_pha"] for p in products],
            [p["bkg_pha"] for p in products],
            snakemake.params.target,
            output,
        )
