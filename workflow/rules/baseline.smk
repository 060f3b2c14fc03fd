rule baseline:
    wildcard_constraints:
        experiment=of_suffix("ecsv"),
        baseline="(?!model$)[a-z_]+",
    input:
        train="data/interim/{experiment}/train.h5",
        test="data/interim/{experiment}/test.h5",
    output:
        "results/{experiment}/baselines/{baseline}.ecsv",
    log:
        "results/{experiment}/logs/baseline_{baseline}.log",
    shell:
        "sciimg baseline --name {wildcards.baseline} --train {input.train:q} --test {input.test:q} "
        "--output {output:q} > {log:q} 2>&1"


use rule baseline as baseline_fields with:
    wildcard_constraints:
        experiment=of_suffix("nc"),
        baseline="(?!model$)[a-z_]+",
    output:
        "results/{experiment}/baselines/{baseline}.nc",


use rule baseline as baseline_sky with:
    wildcard_constraints:
        experiment=of_suffix("fits"),
        baseline="(?!model$)[a-z0-9_]+",
    output:
        "results/{experiment}/baselines/{baseline}.fits",


use rule baseline as baseline_volumes with:
    wildcard_constraints:
        experiment=of_suffix("h5"),
        baseline="(?!model$)[a-z0-9_]+",
    output:
        "results/{experiment}/baselines/{baseline}.h5",
