# sciimg workflow: simulate/ingest -> fit -> predict -> baseline -> evaluate -> report.
# Run: snakemake --cores all [--configfile my.yaml]
import json
import sys

from sciimg.config import validate_config
from sciimg.errors import ConfigError


# The default config only when none is given: `--configfile my.yaml` runs my experiments alone.
if not config.get("experiments"):

    configfile: "configs/default.yaml"


try:
    config = validate_config(config, workflow.source_path("workflow/schemas/config.schema.yaml"))
except ConfigError as error:
    sys.exit(f"sciimg: invalid config: {error}")

EXPERIMENTS = sorted(config["experiments"])


def spec(wildcards):
    """The validated experiment config, passed to the CLI as JSON (params: reruns on change)."""
    return json.dumps(config["experiments"][wildcards.experiment], sort_keys=True)


def experiment(wildcards):
    return config["experiments"][wildcards.experiment]


wildcard_constraints:
    experiment="|".join(EXPERIMENTS),


# Rules that run where snakemake runs, also under the slurm profile (seconds of work each).
localrules:
    all,
    report,


include: "workflow/rules/simulate.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


def final_outputs():
    """The report and every experiment's outputs, so deleting any of them reruns it and its dependents."""
    outputs = ["results/report.html"]
    for name in EXPERIMENTS:
        outputs += [f"results/{name}/metrics.json", f"results/{name}/predictions/model.ecsv"]
        outputs += [f"results/{name}/model.onnx"]
        outputs += [f"results/{name}/baselines/{b}.ecsv" for b in config["experiments"][name]["baselines"]]
    return outputs


rule all:
    input:
        final_outputs(),
    default_target: True
