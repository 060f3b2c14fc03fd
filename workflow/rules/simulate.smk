# Simulators write the native format of their kind, with truth, as an instrument archive would:
# data/raw/<experiment>/<the kind's raw_name> (one file, or a folder of FITS images).
rule simulate:
    output:
        directory("data/raw/{experiment}"),
    params:
        spec=lambda wildcards: data_spec(wildcards, simulate_only=True),
        raw=lambda wildcards, output: os.path.join(output[0], kind(wildcards).raw_name),
    log:
        "results/{experiment}/logs/simulate.log",
    shell:
        "sciimg simulate --spec {params.spec:q} --output {params.raw:q} > {log:q} 2>&1"
