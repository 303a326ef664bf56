from xrtflow.logs import script_log
from xrtflow.steps.fitting import fit_observations

with script_log(snakemake):
    fit_observations(
        backend=snakemake.params.backend,
        spectra=snakemake.input.spectrum,
        backgrounds=snakemake.input.background,
        rmfs=snakemake.input.rmf,
        arfs=snakemake.input.arf,
        settings=snakemake.params.fit,
        json_out=snakemake.output.json,
        table_out=snakemake.output.table,
        plot_out=snakemake.output.plot,
        upstream={"group": snakemake.input.group_record},
        log_path=snakemake.log[0],
    )
