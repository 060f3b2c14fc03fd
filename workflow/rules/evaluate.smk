def method_tables(wildcards):
    """The model's output first, then one per baseline named in the config."""
    suffix = output_suffix(wildcards.experiment)
    tables = {"model": f"results/{wildcards.experiment}/predictions/model.{suffix}"}
    for name in experiment(wildcards)["baselines"]:
        tables[name] = f"results/{wildcards.experiment}/baselines/{name}.{suffix}"
    return tables


def predictions_arg(wildcards, input):
    backbone = experiment(wildcards)["model"].get("backbone", "model")
    pairs = [f"{backbone if name == 'model' else name}={path}" for name, path in method_tables(wildcards).items()]
    return " ".join(f"'{p}'" for p in pairs)


def injection_images(name):
    """Real images a detection experiment injects stars into (data.inject_into)."""
    return config["experiments"][name]["data"].get("inject_into", [])


def injection_result(wildcards):
    return [f"results/{wildcards.experiment}/injection/injection.json"] if injection_images(wildcards.experiment) else []


def evaluate_extras(wildcards, input):
    """Real files the model was applied to (INPUT=OUTPUT pairs) and the injection-recovery result, if any."""
    pairs = [f"'{source}={output}'" for output, source in applied_files(wildcards.experiment).items()]
    extras = ["--applied", *pairs] if pairs else []
    return " ".join(extras + ([f"--injection {input.injection[0]!r}"] if input.injection else []))


# One evaluate rule per kind the config uses: the figures it writes (its outputs) come from the kind.
for evaluated in sorted({kind.name: kind for kind in KINDS.values()}.values(), key=lambda k: k.name):

    rule:
        name:
            f"evaluate_{evaluated.name}"
        wildcard_constraints:
            experiment=matching(n for n in EXPERIMENTS if KINDS[n].name == evaluated.name),
        input:
            unpack(method_tables),
            test="data/interim/{experiment}/test.h5",
            applied=lambda wildcards: list(applied_files(wildcards.experiment)),
            injection=injection_result,
        output:
            metrics="results/{experiment}/metrics.json",
            **{
                figure.removesuffix(".png"): report(
                    f"results/{{experiment}}/{figure}",
                    caption=f"../report/{figure.removesuffix('.png')}.rst",
                    category="{experiment}",
                )
                for figure in evaluated.figures
            },
        params:
            predictions=predictions_arg,
            extras=evaluate_extras,
            out_dir="results/{experiment}",
        log:
            "results/{experiment}/logs/evaluate.log",
        shell:
            "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
            "--predictions {params.predictions} {params.extras} --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule inject:
    """Injection-recovery on real images: known stars added, found by the model and by sep (if a baseline)."""
    wildcard_constraints:
        experiment=matching(n for n in EXPERIMENTS if injection_images(n)),
    input:
        model="results/{experiment}/model",
        images=lambda wildcards: injection_images(wildcards.experiment),
        sep=lambda wildcards: (
            [f"results/{wildcards.experiment}/baselines/sep.fits"] if "sep" in experiment(wildcards)["baselines"] else []
        ),
    output:
        result="results/{experiment}/injection/injection.json",
        cutouts=report(
            "results/{experiment}/injection/injection_cutouts.png",
            caption="../report/injection_cutouts.rst",
            category="{experiment}",
        ),
    params:
        baseline=lambda wildcards, input: f"--baseline sep={input.sep[0]}" if input.sep else "",
        seed=lambda wildcards: experiment(wildcards)["seed"],
        out_dir="results/{experiment}/injection",
    log:
        "results/{experiment}/logs/inject.log",
    shell:
        "sciimg inject --model {input.model:q} --input {input.images:q} {params.baseline} --seed {params.seed} "
        "--output-dir {params.out_dir:q} > {log:q} 2>&1"
