rule report:
    input:
        metrics=expand("results/{experiment}/metrics.json", experiment=EXPERIMENTS),
        compressed=[f"results/{name}/compressed" for name in EXPERIMENTS if "compress" in config["experiments"][name]],
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    shell:
        "sciimg report --metrics {input.metrics:q} --output {output:q} > {log:q} 2>&1 && cat {log:q}"
