# Per-ObsID data: find (local archive) or download (HEASARC/AWS) only what XRT processing needs.
# Always writes stage.json: "ok" with the file paths, or "failed" with the reason (no checkpoint:
# the rules downstream pass a failure on, so Snakemake tracks every file of every ObsID).


rule stage_observation:
    output:
        record("stage"),
    log:
        res("{target}/logs/stage/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/stage/{obsid}.tsv")
    conda:
        "../envs/xrtflow.yaml"
    resources:
        downloads=1,
    params:
        archive=config["archive"],
        mode=MODE,
        start_time=lambda w: selection_row(w.target, w.obsid)["start_time"],
    script:
        "../scripts/stage_observation.py"
