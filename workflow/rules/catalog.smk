# Target position, the Swift master catalog query, and the selection of ObsIDs (a checkpoint).


rule resolve_target:
    output:
        RESULTS + "/{target}/catalog/target.json",
    params:
        target=lambda w: config["targets"][w.target],
    log:
        RESULTS + "/{target}/logs/resolve_target.log",
    script:
        "../scripts/resolve_target.py"


rule query_catalog:
    input:
        target=RESULTS + "/{target}/catalog/target.json",
    output:
        RESULTS + "/{target}/catalog/swiftmastr.ecsv",
    params:
        archive=config["archive"],
        radius_arcmin=lambda w: config["targets"][w.target]["radius_arcmin"],
    log:
        RESULTS + "/{target}/logs/query_catalog.log",
    script:
        "../scripts/query_catalog.py"


checkpoint select_observations:
    input:
        RESULTS + "/{target}/catalog/swiftmastr.ecsv",
    output:
        # update(): rewritten only when the selection changes, so an identical query reruns nothing
        table=update(RESULTS + "/{target}/catalog/selection.ecsv"),
        manifest=update(RESULTS + "/{target}/catalog/obsids.txt"),
    params:
        target=lambda w: config["targets"][w.target],
        mode=MODE,
    log:
        RESULTS + "/{target}/logs/select_observations.log",
    script:
        "../scripts/select_observations.py"


rule backend_info:
    output:
        RESULTS + "/{target}/backend.json",
    params:
        name=BACKEND.name,
        reason=BACKEND.reason,
    log:
        RESULTS + "/{target}/logs/backend_info.log",
    script:
        "../scripts/backend_info.py"
