rule predict:
    wildcard_constraints:
        experiment=of_suffix("ecsv"),
    input:
        model="results/{experiment}/model",
        test="data/interim/{experiment}/test.h5",
    output:
        "results/{experiment}/predictions/model.ecsv",
    log:
        "results/{experiment}/logs/predict.log",
    shell:
        "sciimg predict --model {input.model:q} --input {input.test:q} --output {output:q} > {log:q} 2>&1"


use rule predict as predict_fields with:
    wildcard_constraints:
        experiment=of_suffix("nc"),
    output:
        "results/{experiment}/predictions/model.nc",


use rule predict as predict_sky with:
    wildcard_constraints:
        experiment=of_suffix("fits"),
    output:
        "results/{experiment}/predictions/model.fits",


use rule predict as predict_volumes with:
    wildcard_constraints:
        experiment=of_suffix("h5"),
    output:
        "results/{experiment}/predictions/model.h5",


rule apply:
    """The trained field model on a real file named in data.apply_to (no truth: maps in the report)."""
    input:
        model="results/{experiment}/model",
        source=lambda wildcards: applied_files(wildcards.experiment)[
            f"results/{wildcards.experiment}/applied/{wildcards.name}.nc"
        ],
    output:
        "results/{experiment}/applied/{name}.nc",
    log:
        "results/{experiment}/logs/apply_{name}.log",
    shell:
        "sciimg predict --model {input.model:q} --input {input.source:q} --output {output:q} > {log:q} 2>&1"
