from xrtflow.logs import script_log
from xrtflow.steps.files import atomic_path
from xrtflow.steps.summary import placeholder_figure

with script_log(snakemake), atomic_path(snakemake.output[0]) as output:
    from xrtflow.catalog import read_observation_table

    if len(read_observation_table(snakemake.input[0])) == 0:
        placeholder_figure(output, snakemake.params.target, "timeline (empty catalog)")
    else:
        from xrtflow.plots import plot_timeline

        plot_timeline(snakemake.input[0], snakemake.params.target, snakemake.params.mode, output)
