# Figures (PNG and PDF, one style: xrtflow.plots.style): timeline, parameter evolution, spectra
# (joint and single fits), images, long-term light curve. Figures that grow with the number of
# ObsIDs are paginated: a multi-page PDF, the first page as PNG, every page in <name>_pages/.
from xrtflow.workflow_support import declare_existing_checkpoint_outputs

#: Figures written as <name>.png and <name>.pdf (paginated ones also <name>_pages/).
FIGURE_FILES = [
    "timeline",
    "parameters",
    "spectra",
    "spectra_single",
    "images",
    "image_last",
    "lightcurve",
]
PAGINATED = ["spectra", "spectra_single", "images"]
#: Figures and tables of one target, and the captions, for rule all ({base}: results/<target>).
FIGURE_OUTPUTS = (
    [f"{{base}}/figures/{n}.{ext}" for n in FIGURE_FILES for ext in ("png", "pdf")]
    + [f"{{base}}/figures/{n}_pages" for n in PAGINATED]
    + [f"{{base}}/tables/{n}.html" for n in HTML_TABLES]
    + [
        f"{{base}}/tables/{n}.{e}"
        for n in ("selection", "lightcurve")
        for e in ("ecsv", "csv")
    ]
    + ["{base}/tables/hardness.ecsv"]
    + [f"{CAPTION_DIR}/{n}.rst" for n in CAPTIONS]
)


rule plot_timeline:
    input:
        selection_table,
    output:
        png=report(
            res("{target}/figures/timeline.png"),
            category="Figures",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/timeline.rst",
        ),
        pdf=res("{target}/figures/timeline.pdf"),
    log:
        res("{target}/logs/plot_timeline.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    script:
        "../scripts/plot_timeline.py"


rule plot_parameters:
    input:
        results=res("{target}/tables/results.ecsv"),
        # through the selection checkpoint: an unchanged selection must not rerun this rule
        selection=selection_table,
    output:
        png=report(
            res("{target}/figures/parameters.png"),
            category="Figures",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/parameters.rst",
        ),
        pdf=res("{target}/figures/parameters.pdf"),
    log:
        res("{target}/logs/plot_parameters.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
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
            caption=f"{CAPTION_DIR}/images.rst",
        ),
        last_png=report(
            res("{target}/figures/image_last.png"),
            category="Figures",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/image_last.rst",
        ),
        last_pdf=res("{target}/figures/image_last.pdf"),
    log:
        res("{target}/logs/plot_images.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
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
            caption=f"{CAPTION_DIR}/spectra.rst",
        ),
    log:
        res("{target}/logs/plot_spectra.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
        kind="joint",
    script:
        "../scripts/plot_spectra.py"


rule plot_spectra_single:
    input:
        summaries=summaries,
    output:
        png=res("{target}/figures/spectra_single.png"),
        pdf=res("{target}/figures/spectra_single.pdf"),
        pages=report(
            directory(res("{target}/figures/spectra_single_pages")),
            patterns=["page-{page}.png"],
            category="Figures",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/spectra_single.rst",
        ),
    log:
        res("{target}/logs/plot_spectra_single.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
        kind="single",
    script:
        "../scripts/plot_spectra.py"


rule plot_lightcurve:
    input:
        lightcurve=res("{target}/tables/lightcurve.ecsv"),
        hardness=res("{target}/tables/hardness.ecsv"),
        # through the selection checkpoint: an unchanged selection must not rerun this rule
        selection=selection_table,
    output:
        png=report(
            res("{target}/figures/lightcurve.png"),
            category="Figures",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/lightcurve.rst",
        ),
        pdf=res("{target}/figures/lightcurve.pdf"),
    log:
        res("{target}/logs/plot_lightcurve.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
    script:
        "../scripts/plot_lightcurve.py"


rule report_captions:
    input:
        results=expand(res("{target}/tables/results.ecsv"), target=TARGETS),
        status=expand(res("{target}/tables/status.ecsv"), target=TARGETS),
        selection=expand(res("{target}/tables/selection.ecsv"), target=TARGETS),
        lightcurve=expand(res("{target}/tables/lightcurve.ecsv"), target=TARGETS),
        hardness=expand(res("{target}/tables/hardness.ecsv"), target=TARGETS),
        # through the selection checkpoint: an unchanged selection must not rerun this rule
        selections=lambda w: [
            checkpoints.select_observations.get(target=t).output.table for t in TARGETS
        ],
    output:
        [f"{CAPTION_DIR}/{n}.rst" for n in CAPTIONS],
    log:
        res("logs/report_captions.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        targets={t: config["targets"][t] for t in TARGETS},
        names=CAPTIONS,
        fit=config["fit"],
        backend=BACKEND.name,
    script:
        "../scripts/report_captions.py"


# Report and graphs show every rule: see xrtflow.workflow_support (Snakemake resolves nested
# checkpoints only while running, so --report would omit the per-ObsID processing rules).
declare_existing_checkpoint_outputs(workflow, checkpoints)
