# Per-ObsID processing through the chosen backend:
# xrtpipeline -> xrtexpomap -> regions -> xrtproducts -> ftgrouppha (or their native equivalents).
# Each stage writes its products and a record (<stage>.json); a failed ObsID gets a "failed"
# record with the reason and empty placeholders at the product names (see steps/files.py).


rule pipeline:
    input:
        stage=record("stage"),
        target=res("{target}/catalog/target.json"),
    output:
        **products_of("events"),
        record=record("pipeline"),
    log:
        res("{target}/logs/pipeline/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/pipeline/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    script:
        "../scripts/pipeline.py"


rule expomap:
    input:
        **products_of("events"),
        stage=record("stage"),
        pipeline=record("pipeline"),
    output:
        **products_of("expomap"),
        record=record("expomap"),
    log:
        res("{target}/logs/expomap/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/expomap/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    script:
        "../scripts/expomap.py"


rule regions:
    input:
        res("{target}/catalog/target.json"),
    output:
        source=res("{target}/regions/src.reg"),
        background=res("{target}/regions/bkg.reg"),
    log:
        res("{target}/logs/regions.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        regions=config["regions"],
    script:
        "../scripts/regions.py"


rule products:
    input:
        **products_of("events", "expomap"),
        src_region=res("{target}/regions/src.reg"),
        bkg_region=res("{target}/regions/bkg.reg"),
        stage=record("stage"),
        expomap_record=record("expomap"),
    output:
        **products_of("image", "src_lc", "bkg_lc", "src_pha", "bkg_pha", "arf", "rmf"),
        **products_of("src_region"),  # the circle, or the annulus excising a piled-up core
        record=record("products"),
    log:
        res("{target}/logs/products/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/products/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    script:
        "../scripts/products.py"


rule group_spectrum:
    input:
        **products_of("src_pha", "bkg_pha", "rmf", "arf"),
        products_record=record("products"),
    output:
        **products_of("grouped"),
        record=record("group"),
    log:
        res("{target}/logs/group/{obsid}.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        backend=BACKEND.name,
        config=PROCESSING_CONFIG,
    script:
        "../scripts/group_spectrum.py"
