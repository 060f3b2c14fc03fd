rule report:
    input:
        expand("results/{experiment}/metrics.json", experiment=EXPERIMENTS),
    output:
        "results/report.html",
    log:
        "results/logs/report.log",
    shell:
        "sciimg report --metrics {input:q} --output {output:q} > {log:q} 2>&1 && cat {log:q}"
