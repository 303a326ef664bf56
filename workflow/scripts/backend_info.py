import json
from pathlib import Path

from xrtflow.logs import script_log

with script_log(snakemake):
    info = {"backend": snakemake.params.name, "reason": snakemake.params.reason}
    Path(snakemake.output[0]).write_text(json.dumps(info, indent=2) + "\n")
