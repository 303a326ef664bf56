from xrtflow.logs import script_log
from xrtflow.steps.tables import selection_table

with script_log(snakemake):
    selection_table(snakemake.input[0], snakemake.output.ecsv, snakemake.output.csv)
