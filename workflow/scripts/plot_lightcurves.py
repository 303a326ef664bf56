from xrtflow.logs import script_log
from xrtflow.plots import plot_lightcurves
from xrtflow.steps.summary import read_summaries, with_products

with script_log(snakemake):
    products = [s["products"] for s in with_products(read_summaries(snakemake.input.summaries))]
    plot_lightcurves(
        [p["src_lc"] for p in products],
        [p["bkg_lc"] for p in products],
        [p["src_pha"] for p in products],
        [p["bkg_pha"] for p in products],
        snakemake.params.target,
        snakemake.output[0],
    )
