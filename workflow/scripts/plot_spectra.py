import json
from pathlib import Path

from xrtflow.logs import script_log
from xrtflow.steps.files import atomic_path
from xrtflow.steps.summary import placeholder_figure

with script_log(snakemake), atomic_path(snakemake.output[0]) as output:
    if json.loads(Path(snakemake.input.fit).read_text()).get("status") != "ok":
        placeholder_figure(output, snakemake.params.target, "spectra (no joint fit)")
    else:
        from xrtflow.plots import plot_spectra

        plot_spectra(snakemake.input.plot, snakemake.input.fit, snakemake.params.target, output)
