# Per-ObsID processing through the chosen backend:
# xrtpipeline -> xrtexpomap -> regions -> xrtproducts -> ftgrouppha (or their native equivalents).


checkpoint pipeline:
    input:
        stage=res("{target}/obs/{obsid}/stage.json"),
        target=res("{target}/catalog/target.json"),
    output:
        res("{target}/obs/{obsid}/pipeline.json"),
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        res("{target}/logs/pipeline/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/pipeline/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/pipeline.py"


rule expomap:
    input:
        events=cleaned_event_file,
        stage=res("{target}/obs/{obsid}/stage.json"),
    output:
        obs_file(naming.exposure_map),
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    log:
        res("{target}/logs/expomap/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/expomap/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/expomap.py"


rule regions:
    input:
        res("{target}/catalog/target.json"),
    output:
        source=res("{target}/regions/src.reg"),
        background=res("{target}/regions/bkg.reg"),
    params:
        regions=config["regions"],
    log:
        res("{target}/logs/regions.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/regions.py"


rule products:
    input:
        events=cleaned_event_file,
        expomap=obs_file(naming.exposure_map),
        src_region=res("{target}/regions/src.reg"),
        bkg_region=res("{target}/regions/bkg.reg"),
        stage=res("{target}/obs/{obsid}/stage.json"),
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
        res("{target}/logs/products/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/products/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
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
        res("{target}/logs/group/{obsid}.log"),
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/group_spectrum.py"
