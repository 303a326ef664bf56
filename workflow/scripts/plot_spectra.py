import json
from pathlib import Path

from xrtflow.logs import script_log
from xrtflow.workflow_support import fit_files

with script_log(snakemake):
    from xrtflow.plots import plot_spectra
    from xrtflow.plots.style import nothing_to_show

    kind, out, target = snakemake.params.kind, snakemake.output, snakemake.params.target
    if kind == "joint":
        ok = json.loads(Path(snakemake.input.fit).read_text()).get("status") == "ok"
        plots, fits = ([snakemake.input.plot], [snakemake.input.fit]) if ok else ([], [])
    else:
        # each fitted ObsID's fit.json and fit_plot.ecsv, found through its summary
        files = fit_files(list(snakemake.input.summaries))
        plots, fits = files["plots"], files["fits"]
    if not fits:
        nothing_to_show(target, f"{kind} spectral fit", out.pdf, out.png, out.pages)
    else:
        plot_spectra(plots, fits, target, out.pdf, out.png, out.pages, kind)
