# Spectral fits: each ObsID on its own, and all ObsIDs jointly (nH tied), native or PyXspec.


rule fit_observation:
    input:
        spectrum=PRODUCTS["grouped"],
        background=PRODUCTS["bkg_pha"],
        rmf=PRODUCTS["rmf"],
        arf=PRODUCTS["arf"],
        group_record=record("group"),
    output:
        json=PRODUCTS["fit"],
        table=PRODUCTS["fit_table"],
        plot=PRODUCTS["fit_plot"],
    log:
        res("{target}/logs/fit/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/fit/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    script:
        "../scripts/fit_spectra.py"


rule observation_summary:
    # Every record and product of the ObsID: the summary exists only once all of them do.
    input:
        **PRODUCTS,
        **{f"{stage}_record": record(stage) for stage in STAGE_RECORDS},
    output:
        res("{target}/obs/{obsid}/summary.json"),
    log:
        res("{target}/logs/summary/{obsid}.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/observation_summary.py"


rule fit_joint:
    input:
        summaries,
    output:
        json=res("{target}/fit/joint.json"),
        table=res("{target}/fit/joint.ecsv"),
        plot=res("{target}/fit/joint_plot.ecsv"),
    log:
        res("{target}/logs/fit_joint.log"),
    benchmark:
        res("{target}/benchmarks/fit_joint.tsv")
    conda:
        "../envs/xrtflow.yaml"
    threads: 1
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    script:
        "../scripts/fit_joint.py"
