# sciimg workflow: simulate/ingest -> fit -> predict -> baseline -> evaluate -> report.
# Run: snakemake --cores all [--configfile my.yaml]
import json
import os
import sys

from sciimg.config import read_config_file, validate_config
from sciimg.errors import ConfigError
from sciimg.kinds import kind_of


# The default config only when none is given: `--configfile my.yaml` runs my experiments alone
# (and one naming no experiment is an error, not the default config).
if not workflow.overwrite_configfiles and "experiments" not in config:

    configfile: "configs/default.yaml"


# Jobs that SLURM runs parse this file again: the main process has checked the models already.
try:
    for configfile_given in workflow.overwrite_configfiles:
        read_config_file(configfile_given)  # one that snakemake reads too, but YAML lets a key given twice pass
    config = validate_config(
        config,
        workflow.source_path("workflow/schemas/config.schema.yaml"),
        check_models=workflow.is_main_process,
    )
except ConfigError as error:
    sys.exit(f"sciimg: invalid config: {error}")

EXPERIMENTS = sorted(config["experiments"])
# Each experiment's kind (modality x task) says what its stages use and write (sciimg.kinds).
KINDS = {name: kind_of(config["experiments"][name]) for name in EXPERIMENTS}
SUFFIXES = sorted({kind.output_suffix for kind in KINDS.values()})


def output_suffix(name):
    """The suffix of the experiment's predictions and baseline outputs (ecsv, nc, fits, h5)."""
    return KINDS[name].output_suffix


def checked_suffix(wildcards, what):
    """The requested file suffix, which must be the one the experiment's kind writes ``what`` as."""
    expected = output_suffix(wildcards.experiment)
    if wildcards.suffix != expected:
        raise ValueError(f"{wildcards.experiment} writes {what} as .{expected}, not .{wildcards.suffix}")
    return wildcards.suffix


def matching(names):
    """Experiment names as a wildcard pattern (never empty, so always a valid regex)."""
    return "|".join(names) or "(?!)"


def applied_files(name):
    """Real files the experiment's trained model is applied to after training: output path -> input path."""
    paths = config["experiments"][name]["data"].get("apply_to", [])
    return {f"results/{name}/applied/{os.path.basename(p).split('.')[0]}.{output_suffix(name)}": p for p in paths}


def spec(wildcards):
    """The validated experiment config, passed to the CLI as JSON (params: reruns on change); without the
    compress section, which only the compress rule (:func:`compress_spec`) depends on."""
    full = config["experiments"][wildcards.experiment]
    return json.dumps({k: v for k, v in full.items() if k != "compress"}, sort_keys=True)


def compress_spec(wildcards):
    """The whole validated experiment config, compress section included."""
    return json.dumps(config["experiments"][wildcards.experiment], sort_keys=True)


def data_spec(wildcards, simulate_only=False):
    """The part of the experiment that simulate (``simulate_only``) and ingest depend on.

    Changing the trainer, the baselines or the model's options (other than the target
    transform, which ingest checks) then reruns neither, nor the baselines after them.
    """
    full = config["experiments"][wildcards.experiment]
    data = {"simulate": full["data"]["simulate"]} if simulate_only else full["data"]
    model = {k: v for k, v in full["model"].items() if k == "target_log10"}
    part = {"modality": full["modality"], "task": full["task"], "seed": full["seed"], "data": data, "model": model}
    return json.dumps(part, sort_keys=True)


def experiment(wildcards):
    return config["experiments"][wildcards.experiment]


def kind(wildcards):
    return KINDS[wildcards.experiment]


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
        suffix = output_suffix(name)
        outputs += [f"results/{name}/metrics.json", f"results/{name}/predictions/model.{suffix}"]
        outputs += [f"results/{name}/baselines/{b}.{suffix}" for b in config["experiments"][name]["baselines"]]
        outputs += [f"results/{name}/model.onnx"]
        outputs += [f"results/{name}/compressed"] if "compress" in config["experiments"][name] else []
        outputs += list(applied_files(name))
    return outputs


rule all:
    input:
        final_outputs(),
    default_target: True
