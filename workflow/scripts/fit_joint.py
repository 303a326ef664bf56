from xrtflow.logs import script_log
from xrtflow.steps.fitting import fit_joint

with script_log(snakemake):
    fit_joint(
        backend=snakemake.params.backend,
        summaries=list(snakemake.input),
        settings=snakemake.params.fit,
        json_out=snakemake.output.json,
        table_out=snakemake.output.table,
        plot_out=snakemake.output.plot,
        log_path=snakemake.log[0],
    )
