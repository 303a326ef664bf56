# Spectral fits: each ObsID on its own, and all ObsIDs jointly (nH tied), native or PyXspec.


rule fit_observation:
    input:
        spectrum=obs_file(naming.grouped_spectrum),
        background=obs_file(naming.background_spectrum),
        rmf=obs_file(naming.source_rmf),
        arf=obs_file(naming.source_arf),
    output:
        json=RESULTS + "/{target}/obs/{obsid}/fit.json",
        table=RESULTS + "/{target}/obs/{obsid}/fit.ecsv",
        plot=RESULTS + "/{target}/obs/{obsid}/fit_plot.ecsv",
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    log:
        RESULTS + "/{target}/logs/fit/{obsid}.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/fit/{obsid}.tsv"
    script:
        "../scripts/fit_spectra.py"


rule fit_joint:
    input:
        spectrum=per_obs(obs_file(naming.grouped_spectrum)),
        background=per_obs(obs_file(naming.background_spectrum)),
        rmf=per_obs(obs_file(naming.source_rmf)),
        arf=per_obs(obs_file(naming.source_arf)),
    output:
        json=RESULTS + "/{target}/fit/joint.json",
        table=RESULTS + "/{target}/fit/joint.ecsv",
        plot=RESULTS + "/{target}/fit/joint_plot.ecsv",
    params:
        backend=BACKEND.name,
        fit=config["fit"],
    log:
        RESULTS + "/{target}/logs/fit_joint.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/fit_joint.tsv"
    threads: 1
    script:
        "../scripts/fit_spectra.py"
