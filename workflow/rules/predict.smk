def predict_inputs(wildcards):
    """The trained model and the test split; the suffix must be the one the experiment's kind writes."""
    checked_suffix(wildcards, "predictions")
    return {"model": f"results/{wildcards.experiment}/model", "test": f"data/interim/{wildcards.experiment}/test.h5"}


rule predict:
    wildcard_constraints:
        suffix="|".join(SUFFIXES),
    input:
        unpack(predict_inputs),
    output:
        "results/{experiment}/predictions/model.{suffix}",
    log:
        "results/{experiment}/logs/predict.{suffix}.log",
    shell:
        "sciimg predict --model {input.model:q} --input {input.test:q} --output {output:q} > {log:q} 2>&1"


rule apply:
    """The trained model on a real file named in data.apply_to (no truth: maps in the report)."""
    input:
        model="results/{experiment}/model",
        source=lambda wildcards: applied_files(wildcards.experiment)[
            f"results/{wildcards.experiment}/applied/{wildcards.name}"
        ],
    output:
        "results/{experiment}/applied/{name}",
    log:
        "results/{experiment}/logs/apply_{name}.log",
    shell:
        "sciimg predict --model {input.model:q} --input {input.source:q} --output {output:q} > {log:q} 2>&1"
