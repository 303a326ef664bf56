from xrtflow.logs import script_log
from xrtflow.steps.tables import html_table

with script_log(snakemake):
    html_table(
        snakemake.input.table,
        snakemake.output[0],
        f"{snakemake.wildcards.target}: {snakemake.wildcards.table}",
    )
