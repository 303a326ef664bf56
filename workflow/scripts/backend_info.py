from xrtflow.logs import script_log
from xrtflow.steps.files import write_json

with script_log(snakemake):
    write_json(
        snakemake.output[0], {"backend": snakemake.params.name, "reason": snakemake.params.reason}
    )
