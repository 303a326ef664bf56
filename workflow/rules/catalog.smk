# Target position, the Swift master catalog query, and the selection of ObsIDs (a checkpoint).


rule resolve_target:
    output:
        res("{target}/catalog/target.json"),
    log:
        res("{target}/logs/resolve_target.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
    script:
        "../scripts/resolve_target.py"


rule query_catalog:
    input:
        target=res("{target}/catalog/target.json"),
    output:
        res("{target}/catalog/swiftmastr.ecsv"),
    log:
        res("{target}/logs/query_catalog.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        archive=config["archive"],
        radius_arcmin=lambda w: config["targets"][w.target]["radius_arcmin"],
    script:
        "../scripts/query_catalog.py"


checkpoint select_observations:
    input:
        res("{target}/catalog/swiftmastr.ecsv"),
    output:
        # update(): rewritten only when the selection changes, so an identical query reruns nothing
        table=update(res("{target}/catalog/selection.ecsv")),
        manifest=update(res("{target}/catalog/obsids.txt")),
    log:
        res("{target}/logs/select_observations.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    script:
        "../scripts/select_observations.py"


rule backend_info:
    output:
        res("{target}/backend.json"),
    log:
        res("{target}/logs/backend_info.log"),
    conda:
        "../envs/xrtflow.yaml"
    params:
        name=BACKEND.name,
        reason=BACKEND.reason,
    script:
        "../scripts/backend_info.py"
