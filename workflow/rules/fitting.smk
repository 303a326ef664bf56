# Spectral fits: each ObsID on its own, and all ObsIDs jointly (nH tied), native or PyXspec.


rule fit_observation:
    input:
        spectrum=obs_file(naming.grouped_spectrum),
        background=obs_file(naming.background_spectrum),
        rmf=obs_file(naming.source_rmf),
        arf=obs_file(naming.source_arf),
    output:
        json=res("{target}/obs/{obsid}/fit.json"),
        table=res("{target}/obs/{obsid}/fit.ecsv"),
        plot=res("{target}/obs/{obsid}/fit_plot.ecsv"),
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    log:
        res("{target}/logs/fit/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/fit/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/fit_spectra.py"


rule observation_summary:
    input:
        unpack(summary_inputs),
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
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    log:
        res("{target}/logs/fit_joint.log"),
    benchmark:
        res("{target}/benchmarks/fit_joint.tsv")
    threads: 1
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/fit_joint.py"
