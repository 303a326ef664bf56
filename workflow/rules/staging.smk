# Per-ObsID data: find (local archive) or download (HEASARC/AWS) only what XRT processing needs.
# A checkpoint, so that an ObsID whose data are missing or corrupt is recorded and skipped.


checkpoint stage_observation:
    output:
        RESULTS + "/{target}/obs/{obsid}/stage.json",
    params:
        archive=config["archive"],
        mode=MODE,
        start_time=lambda w: selection_row(w.target, w.obsid)["start_time"],
    log:
        RESULTS + "/{target}/logs/stage/{obsid}.log",
    benchmark:
        RESULTS + "/{target}/benchmarks/stage/{obsid}.tsv"
    resources:
        downloads=1,
    script:
        "../scripts/stage_observation.py"
