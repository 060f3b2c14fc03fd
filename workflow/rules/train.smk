rule fit:
    input:
        train="data/interim/{experiment}/train.h5",
        val="data/interim/{experiment}/val.h5",
    output:
        model=directory("results/{experiment}/model"),
    params:
        spec=spec,
        store_dir=lambda wildcards, input: os.path.dirname(input.train),
        checkpoint_dir="results/{experiment}/checkpoints",
    log:
        "results/{experiment}/logs/fit.log",
    threads: workflow.cores
    shell:
        "sciimg fit --spec {params.spec:q} --experiment {wildcards.experiment} "
        "--store-dir {params.store_dir:q} --checkpoint-dir {params.checkpoint_dir:q} "
        "--output {output.model:q} > {log:q} 2>&1"


rule export:
    input:
        model="results/{experiment}/model",
    output:
        "results/{experiment}/model.onnx",
    log:
        "results/{experiment}/logs/export.log",
    shell:
        "sciimg export --model {input.model:q} --output {output:q} > {log:q} 2>&1"
