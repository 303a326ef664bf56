# Figures: observation timeline, image grid, spectra with the fitted model, light curves.


rule plot_timeline:
    input:
        selection_table,
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
        summaries=summaries,
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
        # through the selection checkpoint, so that a selection that changed nothing does not
        # leave this rule marked as outdated
        summaries=summaries,
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
        summaries=summaries,
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
