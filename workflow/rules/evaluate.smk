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


rule evaluate:
    wildcard_constraints:
        experiment=of_modality("cherenkov"),
    input:
        unpack(method_tables),
        test="data/interim/{experiment}/test.h5",
    output:
        metrics="results/{experiment}/metrics.json",
        resolution=report(
            "results/{experiment}/energy_resolution.png",
            caption="../report/energy_resolution.rst",
            category="{experiment}",
        ),
        migration=report(
            "results/{experiment}/energy_migration.png",
            caption="../report/energy_migration.rst",
            category="{experiment}",
        ),
        examples=report(
            "results/{experiment}/examples.png",
            caption="../report/examples.rst",
            category="{experiment}",
        ),
    params:
        predictions=predictions_arg,
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} --output-dir {params.out_dir:q} > {log:q} 2>&1"


def applied_arg(wildcards, input):
    pairs = [f"{source}={output}" for output, source in applied_files(wildcards.experiment).items()]
    return " ".join(f"'{p}'" for p in pairs)


rule evaluate_fields:
    wildcard_constraints:
        experiment=of_modality("climate"),
    input:
        unpack(method_tables),
        applied=lambda wildcards: list(applied_files(wildcards.experiment)),
        test="data/interim/{experiment}/test.h5",
    output:
        metrics="results/{experiment}/metrics.json",
        maps=report(
            "results/{experiment}/field_maps.png", caption="../report/field_maps.rst", category="{experiment}"
        ),
        area_mean=report(
            "results/{experiment}/area_mean.png", caption="../report/area_mean.rst", category="{experiment}"
        ),
    params:
        predictions=predictions_arg,
        applied=applied_arg,
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} --applied {params.applied} --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule evaluate_sky:
    wildcard_constraints:
        experiment=of_modality("sky", "denoising"),
    input:
        unpack(method_tables),
        test="data/interim/{experiment}/test.h5",
    output:
        metrics="results/{experiment}/metrics.json",
        cutouts=report(
            "results/{experiment}/denoise_cutouts.png",
            caption="../report/denoise_cutouts.rst",
            category="{experiment}",
        ),
    params:
        predictions=predictions_arg,
        training_target=lambda wildcards: experiment(wildcards)["data"]["training_target"],
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} --training-target {params.training_target} "
        "--output-dir {params.out_dir:q} > {log:q} 2>&1"


rule evaluate_sky_cleaning:
    wildcard_constraints:
        experiment=of_modality("sky", "cleaning"),
    input:
        unpack(method_tables),
        test="data/interim/{experiment}/test.h5",
    output:
        metrics="results/{experiment}/metrics.json",
        roc=report(
            "results/{experiment}/cleaning_roc.png", caption="../report/cleaning_roc.rst", category="{experiment}"
        ),
        cutouts=report(
            "results/{experiment}/cleaning_cutouts.png",
            caption="../report/cleaning_cutouts.rst",
            category="{experiment}",
        ),
    params:
        predictions=predictions_arg,
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} --output-dir {params.out_dir:q} > {log:q} 2>&1"


def injection_images(name):
    """Real images a detection experiment injects stars into (data.inject_into)."""
    return config["experiments"][name]["data"].get("inject_into", [])


def injection_result(wildcards):
    return [f"results/{wildcards.experiment}/injection/injection.json"] if injection_images(wildcards.experiment) else []


rule inject:
    """Injection-recovery on real images: known stars added, found by the model and by sep (if a baseline)."""
    wildcard_constraints:
        experiment=of_modality("sky", "detection"),
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


rule evaluate_sky_detection:
    wildcard_constraints:
        experiment=of_modality("sky", "detection"),
    input:
        unpack(method_tables),
        test="data/interim/{experiment}/test.h5",
        injection=injection_result,
    output:
        metrics="results/{experiment}/metrics.json",
        completeness=report(
            "results/{experiment}/detection_completeness.png",
            caption="../report/detection_completeness.rst",
            category="{experiment}",
        ),
        cutouts=report(
            "results/{experiment}/detection_cutouts.png",
            caption="../report/detection_cutouts.rst",
            category="{experiment}",
        ),
    params:
        predictions=predictions_arg,
        injection=lambda wildcards, input: f"--injection {input.injection[0]}" if input.injection else "",
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} {params.injection} --output-dir {params.out_dir:q} > {log:q} 2>&1"


use rule evaluate as evaluate_volume_energy with:
    wildcard_constraints:
        experiment=of_modality("detector3d", "regression"),
    output:
        metrics="results/{experiment}/metrics.json",
        resolution=report(
            "results/{experiment}/energy_resolution.png",
            caption="../report/energy_resolution.rst",
            category="{experiment}",
        ),
        migration=report(
            "results/{experiment}/energy_migration.png",
            caption="../report/energy_migration.rst",
            category="{experiment}",
        ),


rule evaluate_volumes:
    wildcard_constraints:
        experiment=of_modality("detector3d", "segmentation"),
    input:
        unpack(method_tables),
        test="data/interim/{experiment}/test.h5",
    output:
        metrics="results/{experiment}/metrics.json",
        views=report(
            "results/{experiment}/volume_views.png", caption="../report/volume_views.rst", category="{experiment}"
        ),
    params:
        predictions=predictions_arg,
        out_dir="results/{experiment}",
    log:
        "results/{experiment}/logs/evaluate.log",
    shell:
        "sciimg evaluate --experiment {wildcards.experiment} --test {input.test:q} "
        "--predictions {params.predictions} --output-dir {params.out_dir:q} > {log:q} 2>&1"


use rule evaluate_volumes as evaluate_volume_keypoints with:
    wildcard_constraints:
        experiment=of_modality("detector3d", "keypoints"),
    output:
        metrics="results/{experiment}/metrics.json",
        curves=report(
            "results/{experiment}/keypoint_curves.png", caption="../report/keypoint_curves.rst", category="{experiment}"
        ),
        views=report(
            "results/{experiment}/keypoint_views.png", caption="../report/keypoint_views.rst", category="{experiment}"
        ),


use rule evaluate_volumes as evaluate_volume_denoising with:
    wildcard_constraints:
        experiment=of_modality("detector3d", "denoising"),
    output:
        metrics="results/{experiment}/metrics.json",
        views=report(
            "results/{experiment}/denoise_views.png", caption="../report/denoise_views.rst", category="{experiment}"
        ),
