# Per-ObsID data: find (local archive) or download (HEASARC/AWS) only what XRT processing needs.
# A checkpoint, so that an ObsID whose data are missing or corrupt is recorded and skipped.


checkpoint stage_observation:
    input:
        # params read the selection row: a job run on its own (cluster, --target-jobs) must see
        # the checkpoint's output as an input, or Snakemake refuses the job
        selection=selection_table,
    output:
        res("{target}/obs/{obsid}/stage.json"),
    params:
        archive=config["archive"],
        mode=MODE,
        start_time=lambda w: selection_row(w.target, w.obsid)["start_time"],
    log:
        res("{target}/logs/stage/{obsid}.log"),
    benchmark:
        res("{target}/benchmarks/stage/{obsid}.tsv")
    resources:
        downloads=1,
    conda:
        "../envs/xrtflow.yaml"
    script:
        "../scripts/stage_observation.py"
