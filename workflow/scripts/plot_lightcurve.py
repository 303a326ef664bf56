from xrtflow.logs import script_log

with script_log(snakemake):
    from astropy.table import Table

    from xrtflow.plots import plot_lightcurve
    from xrtflow.plots.style import nothing_to_show

    out, target = snakemake.output, snakemake.params.target
    if len(Table.read(snakemake.input.lightcurve, format="ascii.ecsv")) == 0:
        nothing_to_show(target, "light curve", out.pdf, out.png)
    else:
        plot_lightcurve(
            snakemake.input.lightcurve, snakemake.input.hardness, target, out.png, out.pdf
        )
