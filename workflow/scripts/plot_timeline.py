from xrtflow.logs import script_log

with script_log(snakemake):
    from xrtflow.catalog import read_observation_table
    from xrtflow.plots import plot_timeline
    from xrtflow.plots.style import nothing_to_show

    out, target = snakemake.output, snakemake.params.target
    if len(read_observation_table(snakemake.input[0])) == 0:
        nothing_to_show(target, "observation (empty catalog)", out.pdf, out.png)
    else:
        plot_timeline(snakemake.input[0], target, snakemake.params.mode, out.png, out.pdf)
