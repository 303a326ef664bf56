from xrtflow.logs import script_log

with script_log(snakemake):
    from astropy.table import Table

    from xrtflow.plots import plot_parameters
    from xrtflow.plots.style import nothing_to_show

    out, target = snakemake.output, snakemake.params.target
    if len(Table.read(snakemake.input.results, format="ascii.ecsv")) == 0:
        nothing_to_show(target, "fitted parameters", out.pdf, out.png)
    else:
        plot_parameters(snakemake.input.results, target, out.png, out.pdf)
