def ingest_inputs(wildcards):
    """The simulator's folder, or the user's files (paths/globs) named in data.files."""
    data = experiment(wildcards)["data"]
    if "files" in data:
        from sciimg.io.inputs import expand_inputs

        return [str(p) for p in expand_inputs(data["files"]["paths"])]
    return [f"data/raw/{wildcards.experiment}"]


def ingest_paths(wildcards, input):
    """What ingest reads: the user's files, or what the simulator wrote into its folder."""
    if "files" in experiment(wildcards)["data"]:
        return list(input)
    return [os.path.join(input[0], kind(wildcards).raw_name)]


rule ingest:
    input:
        ingest_inputs,
    output:
        train="data/interim/{experiment}/train.h5",
        val="data/interim/{experiment}/val.h5",
        test="data/interim/{experiment}/test.h5",
    params:
        spec=data_spec,
        inputs=ingest_paths,
        out_dir=lambda wildcards, output: os.path.dirname(output.train),
    log:
        "results/{experiment}/logs/ingest.log",
    shell:
        "sciimg ingest --spec {params.spec:q} --input {params.inputs:q} --output-dir {params.out_dir:q} > {log:q} 2>&1"
