# Result and status tables (ECSV for astropy users, CSV for everyone else).


rule results_table:
    input:
        joint=res("{target}/fit/joint.ecsv"),
        single=per_obs(res("{target}/obs/{obsid}/fit.ecsv")),
        selection=res("{target}/catalog/selection.ecsv"),
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
        selection=res("{target}/catalog/selection.ecsv"),
        stage=per_selected_obs(res("{target}/obs/{obsid}/stage.json")),
        pipeline=per_staged_obs(res("{target}/obs/{obsid}/pipeline.json")),
        fits=per_obs(res("{target}/obs/{obsid}/fit.json")),
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
