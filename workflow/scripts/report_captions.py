from xrtflow.logs import script_log
from xrtflow.steps.captions import write_captions

with script_log(snakemake):
    inputs = {
        key: list(getattr(snakemake.input, key))
        for key in ("results", "status", "selection", "lightcurve", "hardness")
    }
    write_captions(
        snakemake.params.targets,
        inputs,
        snakemake.params.fit,
        snakemake.params.backend,
        snakemake.params.names,
        list(snakemake.output),
    )
