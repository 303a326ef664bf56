# Figures: observation timeline, image grid, spectra with the fitted model, light curves.


rule plot_timeline:
    input:
        RESULTS + "/{target}/catalog/selection.ecsv",
    output:
        report(
            RESULTS + "/{target}/figures/timeline.png",
            category="Figures",
            caption="../report/timeline.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    log:
        RESULTS + "/{target}/logs/plot_timeline.log",
    script:
        "../scripts/plot_timeline.py"


rule plot_images:
    input:
        images=per_obs(obs_file(naming.sky_image)),
        target=RESULTS + "/{target}/catalog/target.json",
        src_region=RESULTS + "/{target}/regions/src.reg",
        bkg_region=RESULTS + "/{target}/regions/bkg.reg",
    output:
        report(
            RESULTS + "/{target}/figures/images.png",
            category="Figures",
            caption="../report/images.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        RESULTS + "/{target}/logs/plot_images.log",
    script:
        "../scripts/plot_images.py"


rule plot_spectra:
    input:
        plot=RESULTS + "/{target}/fit/joint_plot.ecsv",
        fit=RESULTS + "/{target}/fit/joint.json",
    output:
        report(
            RESULTS + "/{target}/figures/spectra.png",
            category="Figures",
            caption="../report/spectra.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        RESULTS + "/{target}/logs/plot_spectra.log",
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
            RESULTS + "/{target}/figures/lightcurves.png",
            category="Figures",
            caption="../report/lightcurves.rst",
        ),
    params:
        target=lambda w: config["targets"][w.target],
    log:
        RESULTS + "/{target}/logs/plot_lightcurves.log",
    script:
        "../scripts/plot_lightcurves.py"
