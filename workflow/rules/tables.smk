# Result and status tables (ECSV for astropy users, CSV for everyone else).


rule results_table:
    input:
        joint=RESULTS + "/{target}/fit/joint.ecsv",
        single=per_obs(RESULTS + "/{target}/obs/{obsid}/fit.ecsv"),
        selection=RESULTS + "/{target}/catalog/selection.ecsv",
    output:
        ecsv=report(
            RESULTS + "/{target}/tables/results.ecsv",
            category="Tables",
            caption="../report/results.rst",
        ),
        csv=RESULTS + "/{target}/tables/results.csv",
    log:
        RESULTS + "/{target}/logs/results_table.log",
    script:
        "../scripts/results_table.py"


rule status_table:
    input:
        selection=RESULTS + "/{target}/catalog/selection.ecsv",
        stage=per_selected_obs(RESULTS + "/{target}/obs/{obsid}/stage.json"),
        pipeline=per_staged_obs(RESULTS + "/{target}/obs/{obsid}/pipeline.json"),
        fits=per_obs(RESULTS + "/{target}/obs/{obsid}/fit.json"),
    output:
        report(
            RESULTS + "/{target}/tables/status.ecsv",
            category="Tables",
            caption="../report/status.rst",
        ),
    log:
        RESULTS + "/{target}/logs/status_table.log",
    script:
        "../scripts/status_table.py"
