def ingest_inputs(wildcards):
    """Simulated file, or the user's files (paths/globs) named in data.files."""
    data = experiment(wildcards)["data"]
    if "files" in data:
        from sciimg.data.splits import expand_inputs

        return [str(p) for p in expand_inputs(data["files"]["paths"])]
    return [f"data/raw/{wildcards.experiment}/{RAW[experiment(wildcards)['modality']]}"]


rule ingest:
    input:
        ingest_inputs,
    output:
        train="data/interim/{experiment}/train.h5",
        val="data/interim/{experiment}/val.h5",
        test="data/interim/{experiment}/test.h5",
    params:
        spec=data_spec,
        out_dir=lambda wildcards, output: os.path.dirname(output.train),
    log:
        "results/{experiment}/logs/ingest.log",
    shell:
        "sciimg ingest --spec {params.spec:q} --input {input:q} --output-dir {params.out_dir:q} > {log:q} 2>&1"
