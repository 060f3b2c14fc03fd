rule predict:
    input:
        model="results/{experiment}/model",
        test="data/interim/{experiment}/test.h5",
    output:
        "results/{experiment}/predictions/model.ecsv",
    log:
        "results/{experiment}/logs/predict.log",
    shell:
        "sciimg predict --model {input.model:q} --input {input.test:q} --output {output:q} > {log:q} 2>&1"
