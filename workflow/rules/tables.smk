# Result, status, selection and light-curve tables: ECSV (units, descriptions) and CSV, and an
# HTML rendering of each for the report (Snakemake shows ECSV only as a text download).

import os

HTML_TABLES = ["results", "status", "selection", "lightcurve", "hardness"]
#: Report captions are written per run (rule report_captions) with the run's values; the
#: captions are RST+jinja templates choosing their target by wildcard.
# (absolute: they are not beside the rule files)
CAPTION_DIR = os.path.abspath(res("report/captions"))
CAPTIONS = [
    "timeline",
    "parameters",
    "spectra",
    "spectra_single",
    "images",
    "image_last",
    "lightcurve",
    "tables",
]


wildcard_constraints:
    table="|".join(HTML_TABLES),


rule results_table:
    input:
        joint=res("{target}/fit/joint.json"),
        summaries=summaries,
        selection=selection_table,
    output:
        ecsv=res("{target}/tables/results.ecsv"),
        csv=res("{target}/tables/results.csv"),
    log:
        res("{target}/logs/results_table.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/results_table.py"


rule status_table:
    input:
        selection=selection_table,
        summaries=summaries,
        lightcurves=lightcurve_records,
    output:
        res("{target}/tables/status.ecsv"),
    log:
        res("{target}/logs/status_table.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/status_table.py"


rule selection_summary:
    input:
        selection_table,
    output:
        ecsv=res("{target}/tables/selection.ecsv"),
        csv=res("{target}/tables/selection.csv"),
    log:
        res("{target}/logs/selection_summary.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/selection_summary.py"


rule lightcurve_table:
    input:
        selection=selection_table,
        lightcurves=lightcurve_records,
    output:
        ecsv=res("{target}/tables/lightcurve.ecsv"),
        csv=res("{target}/tables/lightcurve.csv"),
        hardness=res("{target}/tables/hardness.ecsv"),
    log:
        res("{target}/logs/lightcurve_table.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        epoch=lambda w: config["targets"][w.target].get("epoch_mjd"),
        lightcurve=config["lightcurve"],
    script:
        "../scripts/lightcurve_table.py"


rule html_table:
    input:
        table=res("{target}/tables/{table}.ecsv"),
        # through the selection checkpoint: an unchanged selection must not rerun this rule
        selection=selection_table,
    output:
        report(
            res("{target}/tables/{table}.html"),
            category="Tables",
            subcategory="{target}",
            caption=f"{CAPTION_DIR}/tables.rst",
        ),
    log:
        res("{target}/logs/html_table/{table}.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/html_table.py"
