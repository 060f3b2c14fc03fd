# Simulators write the native format of their modality, with truth, as an instrument archive would.
rule simulate:
    wildcard_constraints:
        experiment=of_modality("cherenkov"),
    output:
        "data/raw/{experiment}/simulated.dl1.h5",
    params:
        spec=lambda wildcards: data_spec(wildcards, simulate_only=True),
    log:
        "results/{experiment}/logs/simulate.log",
    shell:
        "sciimg simulate --spec {params.spec:q} --output {output:q} > {log:q} 2>&1"


use rule simulate as simulate_fields with:
    wildcard_constraints:
        experiment=of_modality("climate"),
    output:
        "data/raw/{experiment}/simulated.nc",


use rule simulate as simulate_sky with:
    wildcard_constraints:
        experiment=of_modality("sky"),
    output:
        directory("data/raw/{experiment}/simulated_fits"),


use rule simulate as simulate_volumes with:
    wildcard_constraints:
        experiment=of_modality("detector3d"),
    output:
        "data/raw/{experiment}/simulated.h5",
