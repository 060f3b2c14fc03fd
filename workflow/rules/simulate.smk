rule simulate:
    output:
        "data/raw/{experiment}/simulated.dl1.h5",
    params:
        spec=spec,
    log:
        "results/{experiment}/logs/simulate.log",
    shell:
        "sciimg simulate --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"
