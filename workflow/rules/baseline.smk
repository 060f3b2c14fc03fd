rule baseline:
    input:
        train="data/interim/{experiment}/train.h5",
        test="data/interim/{experiment}/test.h5",
    output:
        "results/{experiment}/baselines/{baseline}.ecsv",
    wildcard_constraints:
        baseline="(?!model$)[a-z_]+",
    log:
        "results/{experiment}/logs/baseline_{baseline}.log",
    shell:
        "sciimg baseline --name {wildcards.baseline} --train {input.train:q} --test {input.test:q} "
        "--output {output:q} > {log:q} 2>&1"
