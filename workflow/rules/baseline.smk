def baseline_inputs(wildcards):
    """The three splits (settings are chosen on val); the suffix must be the one the experiment's kind writes."""
    checked_suffix(wildcards, "baselines")
    return {name: f"data/interim/{wildcards.experiment}/{name}.h5" for name in ("train", "val", "test")}


rule baseline:
    wildcard_constraints:
        baseline="(?!model$)[a-z0-9_]+",
        suffix="|".join(SUFFIXES),
    input:
        unpack(baseline_inputs),
    output:
        "results/{experiment}/baselines/{baseline}.{suffix}",
    log:
        "results/{experiment}/logs/baseline_{baseline}.{suffix}.log",
    shell:
        "sciimg baseline --name {wildcards.baseline} --train {input.train:q} --val {input.val:q} --test {input.test:q} "
        "--output {output:q} > {log:q} 2>&1"
