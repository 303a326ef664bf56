# Figures (PNG and PDF, one style: xrtflow.plots.style): timeline, parameter evolution, spectra
# (joint and single fits), images, long-term light curve. Figures that grow with the number of
# ObsIDs are paginated: a multi-page PDF, the first page as PNG, every page in <name>_pages/.
#: Figures written as <name>.png and <name>.pdf (paginated ones also <name>_pages/).
FIGURE_FILES = ["timeline", "parameters", "spectra", "spectra_single", "images", "image_last", "lightcurve"]
PAGINATED = ["spectra", "spectra_single", "images"]


def figure_outputs(base):
    """Figures and tables of one target (for rule all)."""
    out = [f"{base}/figures/{n}.{ext}" for n in FIGURE_FILES for ext in ("png", "pdf")]
    out += [f"{base}/figures/{n}_pages" for n in PAGINATED]
    out += [f"{base}/tables/{n}.html" for n in HTML_TABLES]
    out += [f"{base}/tables/{n}.{ext}" for n in ("selection", "lightcurve") for ext in ("ecsv", "csv")]
    out += [f"{base}/tables/hardness.ecsv"]
    out += [caption(n) for n in CAPTIONS]
    return out


def fit_files(wildcards):
    """fit_plot.ecsv and fit.json of every ObsID that was fitted (beside its fit table)."""
    from xrtflow.steps.summary import read_summaries
    from xrtflow.steps.tables import single_fit_json

    ok = [s for s in read_summaries(summaries(wildcards)) if s["status"] == "ok"]
    fits = [str(single_fit_json(s)) for s in ok]
    return {"fits": fits, "plots": [str(Path(f).with_name("fit_plot.ecsv")) for f in fits]}


rule plot_timeline:
    input:
        selection_table,
    output:
        png=report(
            res("{target}/figures/timeline.png"),
            category="Figures",
            subcategory="{target}",
            caption=caption("timeline"),
        ),
        pdf=res("{target}/figures/timeline.pdf"),
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    log:
        res("{target}/logs/plot_timeline.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_timeline.py"


rule plot_parameters:
    input:
        res("{target}/tables/results.ecsv"),
    output:
        png=report(
            res("{target}/figures/parameters.png"),
            category="Figures",
            subcategory="{target}",
            caption=caption("parameters"),
        ),
        pdf=res("{target}/figures/parameters.pdf"),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        res("{target}/logs/plot_parameters.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_parameters.py"


rule plot_images:
    input:
        summaries=summaries,
        target=res("{target}/catalog/target.json"),
        src_region=res("{target}/regions/src.reg"),
        bkg_region=res("{target}/regions/bkg.reg"),
    output:
        png=res("{target}/figures/images.png"),
        pdf=res("{target}/figures/images.pdf"),
        pages=report(
            directory(res("{target}/figures/images_pages")),
            patterns=["page-{page}.png"],
            category="Figures",
            subcategory="{target}",
            caption=caption("images"),
        ),
        last_png=report(
            res("{target}/figures/image_last.png"),
            category="Figures",
            subcategory="{target}",
            caption=caption("image_last"),
        ),
        last_pdf=res("{target}/figures/image_last.pdf"),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        res("{target}/logs/plot_images.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_images.py"


rule plot_spectra:
    input:
        plot=res("{target}/fit/joint_plot.ecsv"),
        fit=res("{target}/fit/joint.json"),
        # through the selection checkpoint, so that a selection that changed nothing does not
        # leave this rule marked as outdated
        summaries=summaries,
    output:
        png=res("{target}/figures/spectra.png"),
        pdf=res("{target}/figures/spectra.pdf"),
        pages=report(
            directory(res("{target}/figures/spectra_pages")),
            patterns=["page-{page}.png"],
            category="Figures",
            subcategory="{target}",
            caption=caption("spectra"),
        ),
    params:
        target=lambda w: config["targets"][w.target],
        kind="joint",
    log:
        res("{target}/logs/plot_spectra.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_spectra.py"


rule plot_spectra_single:
    input:
        unpack(fit_files),
        summaries=summaries,
    output:
        png=res("{target}/figures/spectra_single.png"),
        pdf=res("{target}/figures/spectra_single.pdf"),
        pages=report(
            directory(res("{target}/figures/spectra_single_pages")),
            patterns=["page-{page}.png"],
            category="Figures",
            subcategory="{target}",
            caption=caption("spectra_single"),
        ),
    params:
        target=lambda w: config["targets"][w.target],
        kind="single",
    log:
        res("{target}/logs/plot_spectra_single.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_spectra.py"


rule plot_lightcurve:
    input:
        lightcurve=res("{target}/tables/lightcurve.ecsv"),
        hardness=res("{target}/tables/hardness.ecsv"),
    output:
        png=report(
            res("{target}/figures/lightcurve.png"),
            category="Figures",
            subcategory="{target}",
            caption=caption("lightcurve"),
        ),
        pdf=res("{target}/figures/lightcurve.pdf"),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        res("{target}/logs/plot_lightcurve.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_lightcurve.py"


rule report_captions:
    input:
        results=expand(res("{target}/tables/results.ecsv"), target=TARGETS),
        status=expand(res("{target}/tables/status.ecsv"), target=TARGETS),
        selection=expand(res("{target}/tables/selection.ecsv"), target=TARGETS),
        lightcurve=expand(res("{target}/tables/lightcurve.ecsv"), target=TARGETS),
        hardness=expand(res("{target}/tables/hardness.ecsv"), target=TARGETS),
    output:
        [caption(n) for n in CAPTIONS],
    params:
        targets={t: config["targets"][t] for t in TARGETS},
        names=CAPTIONS,
        fit=config["fit"],
        backend=BACKEND.name,
    log:
        res("logs/report_captions.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/report_captions.py"


# ---------------------------------------------------------------------------------------------
# Report and graphs: every rule. Snakemake resolves a checkpoint only for jobs already in the
# DAG (snakemake issues #2822, #3862), so when nothing runs (--report, --rulegraph, --dag) the
# per-ObsID checkpoints behind the selection checkpoint (stage_observation, then pipeline) stay
# unresolved and their downstream rules (pipeline, expomap, products, group_spectrum,
# fit_observation) are left out of the report's graph and statistics. For those commands only,
# the checkpoint outputs already on disk are declared created, so the DAG is built in full.
# ---------------------------------------------------------------------------------------------
def _declare_existing_checkpoint_outputs():
    import sys
    from glob import glob

    from snakemake.io import regex_from_filepattern

    graph_only = {"--report", "--rulegraph", "--dag", "--filegraph", "--d3dag", "--summary"}
    if not graph_only.intersection(sys.argv):
        return
    import re

    for rule in workflow.rules:
        if not rule.is_checkpoint:
            continue
        for pattern in rule.output:
            wildcard = re.sub(r"\{[^}]+\}", "*", str(pattern))
            regex = re.compile(regex_from_filepattern(str(pattern)))
            hits = [f for f in glob(wildcard) if regex.match(f)]
            checkpoints.created_output.update(hits)


_declare_existing_checkpoint_outputs()
