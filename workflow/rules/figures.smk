# Figures: observation timeline, image grid, spectra with the fitted model, light curves.


rule plot_timeline:
    input:
        res("{target}/catalog/selection.ecsv"),
    output:
        report(
            res("{target}/figures/timeline.png"),
            category="Figures",
            caption="../report/timeline.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    log:
        res("{target}/logs/plot_timeline.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_timeline.py"


rule plot_images:
    input:
        images=per_obs(obs_file(naming.sky_image)),
        target=res("{target}/catalog/target.json"),
        src_region=res("{target}/regions/src.reg"),
        bkg_region=res("{target}/regions/bkg.reg"),
    output:
        report(
            res("{target}/figures/images.png"),
            category="Figures",
            caption="../report/images.rst",
        ),
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
    output:
        report(
            res("{target}/figures/spectra.png"),
            category="Figures",
            caption="../report/spectra.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        res("{target}/logs/plot_spectra.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_spectra.py"


rule plot_lightcurves:
    input:
        source=per_obs(obs_file(naming.source_lightcurve)),
        background=per_obs(obs_file(naming.background_lightcurve)),
        src_pha=per_obs(obs_file(naming.source_spectrum)),
        bkg_pha=per_obs(obs_file(naming.background_spectrum)),
    output:
        report(
            res("{target}/figures/lightcurves.png"),
            category="Figures",
            caption="../report/lightcurves.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        res("{target}/logs/plot_lightcurves.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/plot_lightcurves.py"
