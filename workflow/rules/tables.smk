# Result and status tables (ECSV for astropy users, CSV for everyone else).


rule results_table:
    input:
        joint=res("{target}/fit/joint.ecsv"),
        summaries=summaries,
        selection=selection_table,
    output:
        ecsv=report(
            res("{target}/tables/results.ecsv"),
            category="Tables",
            caption="../report/results.rst",
        ),
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
    output:
        report(
            res("{target}/tables/status.ecsv"),
            category="Tables",
            caption="../report/status.rst",
        ),
    log:
        res("{target}/logs/status_table.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/status_table.py"
