# Corrected light curves per ObsID (xrtlccorr-like: PSF, bad columns, exposure; bands and the
# hardness ratio), after the products stage. The `lightcurve` settings are passed to this rule
# only: changing the binning or the bands reruns the light curves, not the spectra and fits.


rule lightcurve:
    input:
        # the regions the products stage used (an annulus when the core is piled up; WT boxes)
        **products_of("events", "src_region", "bkg_region"),
        stage=record("stage"),
        products_record=record("products"),
    output:
        **LIGHTCURVE_PRODUCTS,
        record=record("lightcurve"),
    log:
        res("{target}/logs/lightcurve/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/lightcurve/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
        lightcurve=config["lightcurve"],
    script:
        "../scripts/lightcurve.py"
