# Per-ObsID processing through the chosen backend:
# xrtpipeline -> xrtexpomap -> regions -> xrtproducts -> ftgrouppha (or their native equivalents).


checkpoint pipeline:
    input:
        stage=RESULTS + "/{target}/obs/{obsid}/stage.json",
        target=RESULTS + "/{target}/catalog/target.json",
    output:
        RESULTS + "/{target}/obs/{obsid}/pipeline.json",
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        RESULTS + "/{target}/logs/pipeline/{obsid}.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/pipeline/{obsid}.tsv"
    script:
        "../scripts/pipeline.py"


rule expomap:
    input:
        events=cleaned_event_file,
        stage=RESULTS + "/{target}/obs/{obsid}/stage.json",
    output:
        obs_file(naming.exposure_map),
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        RESULTS + "/{target}/logs/expomap/{obsid}.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/expomap/{obsid}.tsv"
    script:
        "../scripts/expomap.py"


rule regions:
    input:
        RESULTS + "/{target}/catalog/target.json",
    output:
        source=RESULTS + "/{target}/regions/src.reg",
        background=RESULTS + "/{target}/regions/bkg.reg",
    params:
        regions=config["regions"],
    log:
        RESULTS + "/{target}/logs/regions.log",
    script:
        "../scripts/regions.py"


rule products:
    input:
        events=cleaned_event_file,
        expomap=obs_file(naming.exposure_map),
        src_region=RESULTS + "/{target}/regions/src.reg",
        bkg_region=RESULTS + "/{target}/regions/bkg.reg",
        stage=RESULTS + "/{target}/obs/{obsid}/stage.json",
    output:
        image=obs_file(naming.sky_image),
        src_lc=obs_file(naming.source_lightcurve),
        bkg_lc=obs_file(naming.background_lightcurve),
        src_pha=obs_file(naming.source_spectrum),
        bkg_pha=obs_file(naming.background_spectrum),
        arf=obs_file(naming.source_arf),
        rmf=obs_file(naming.source_rmf),
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        RESULTS + "/{target}/logs/products/{obsid}.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/products/{obsid}.tsv"
    script:
        "../scripts/products.py"


rule group_spectrum:
    input:
        src_pha=obs_file(naming.source_spectrum),
        bkg_pha=obs_file(naming.background_spectrum),
        rmf=obs_file(naming.source_rmf),
        arf=obs_file(naming.source_arf),
    output:
        obs_file(naming.grouped_spectrum),
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        RESULTS + "/{target}/logs/group/{obsid}.log",
    script:
        "../scripts/group_spectrum.py"
