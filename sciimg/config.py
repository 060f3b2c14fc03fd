"""Configuration: validate against the workflow's JSON schema, fill defaults, explain errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sciimg.errors import ConfigError, InputError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """The config schema (YAML)."""
    return yaml.safe_load(Path(path).read_text())


def _with_defaults(validator_class: type, root: Mapping[str, Any]) -> type:
    """A validator that also fills in ``default`` values of missing properties.

    A property given by ``$ref: "#/definitions/name"`` takes that definition's default.
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "$ref" in sub and "default" not in sub:  # a definition's own default counts too
                    sub = root["definitions"][sub["$ref"].removeprefix("#/definitions/")]
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _explain(error: jsonschema.ValidationError) -> str:
    """One sentence naming the key at fault and what is allowed."""
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        return f"config key {where}.{unexpected[0]} is not allowed; allowed keys there: {allowed}"
    if error.validator == "enum":
        return f"config key {where} must be one of {error.validator_value}, got {error.instance!r}"
    if error.validator == "required":
        return f"config key {where} is missing {error.message.split(' is a required')[0]}"
    if error.validator == "oneOf" and where.endswith("data"):
        return f"config key {where} must have exactly one of 'simulate' or 'files'"
    if error.validator == "propertyNames":
        return f"experiment name {error.instance!r} must match {error.validator_value.get('pattern')}"
    return f"config key {where}: {error.message}"


def validate_config(
    config: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH, *, check_models: bool = True
) -> dict[str, Any]:
    """Validate a whole workflow config; return a copy with defaults filled in.

    ``check_models=False`` leaves out :func:`check_model`, which imports PyTorch and
    Lightning (seconds): for steps that never build a network, on a config already checked.

    Raises:
        ConfigError: the first problem, naming the key and the allowed values.
    """
    config = json.loads(json.dumps(config))  # plain dicts/lists, deep copy
    schema = load_schema(schema_path)
    validator = _with_defaults(jsonschema.Draft7Validator, schema)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    if errors:
        deepest = max(errors, key=lambda e: len(e.absolute_path)) if errors[0].validator == "oneOf" else errors[0]
        raise ConfigError(_explain(deepest))
    for name, experiment in config["experiments"].items():
        check_experiment(name, experiment)
        if check_models:
            check_model(name, experiment)
    return config


TASKS_OF_MODALITY = {
    "cherenkov": ("regression",),
    "climate": ("inpainting", "denoising"),
    "sky": ("denoising", "cleaning", "detection"),
    "detector3d": ("segmentation", "keypoints", "regression", "denoising"),
}
BASELINES_OF = {
    ("cherenkov", "regression"): ("hillas_rf",),
    ("climate", "inpainting"): ("climatology", "idw", "biharmonic", "kriging"),
    ("climate", "denoising"): ("gaussian_filter",),
    ("sky", "denoising"): ("gaussian_filter", "median_filter", "wavelet", "nl_means", "bm3d"),
    ("sky", "cleaning"): ("astroscrappy", "biharmonic", "masked_median"),
    ("sky", "detection"): ("sep", "photutils"),
    ("detector3d", "segmentation"): ("threshold_pca",),
    ("detector3d", "keypoints"): ("pca_ends",),
    ("detector3d", "regression"): ("calorimetric",),
    ("detector3d", "denoising"): ("threshold_isolated",),
}


def check_experiment(name: str, experiment: Mapping[str, Any]) -> None:
    """Cross-field checks the schema cannot express."""
    key = f"config key experiments.{name}"
    modality, task, data = experiment["modality"], experiment["task"], experiment["data"]
    if task not in TASKS_OF_MODALITY[modality]:
        raise ConfigError(f"{key}.task must be one of {list(TASKS_OF_MODALITY[modality])} for {modality}, got {task!r}")
    allowed = BASELINES_OF[modality, task]
    wrong = [b for b in experiment["baselines"] if b not in allowed]
    if wrong:
        raise ConfigError(f"{key}.baselines must be among {list(allowed)} for {modality} {task}, got {wrong}")
    split = data["split"]
    if abs(sum(split.values()) - 1.0) > 1e-6:
        raise ConfigError(f"{key}.data.split must sum to 1, got {split}")
    trainer = experiment["trainer"]
    if isinstance(trainer["devices"], int):
        processes = trainer["devices"] * trainer["num_nodes"]
        if trainer["batch_size"] % processes:
            raise ConfigError(
                f"{key}.trainer.batch_size must be divisible by devices x num_nodes "
                f"= {processes} (it is the global batch), got {trainer['batch_size']}"
            )
    if modality == "cherenkov":
        _check_cherenkov_data(key, data)
    elif modality == "climate":
        _check_climate_data(key, data)
    elif modality == "sky":
        _check_sky_data(key, data)
        _check_windowed_model(key, experiment["model"])
    else:
        _check_volume_data(key, data)
        _check_windowed_model(key, experiment["model"])


def check_model(name: str, experiment: Mapping[str, Any]) -> None:
    """The ``model`` section builds: options the task accepts, a backbone that takes the input."""
    key = f"config key experiments.{name}"
    from sciimg.tasks.fit import input_layout, task_options

    in_channels, spatial_dims = input_layout(experiment)
    try:
        task_options(experiment, in_channels, spatial_dims)
    except ConfigError as error:
        raise ConfigError(f"{key}.model: {error}") from None
    backbone_options = experiment["model"].get("backbone_options", {})
    from sciimg.nets import build

    try:
        build(experiment["model"].get("backbone", "resnet18"), spatial_dims, in_channels, **backbone_options)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key}.model: {error}") from None


def _check_cherenkov_data(key: str, data: Mapping[str, Any]) -> None:
    sim = data.get("simulate")
    if sim and sim["energy_min_tev"] >= sim["energy_max_tev"]:
        raise ConfigError(f"{key}.data.simulate.energy_min_tev must be below energy_max_tev")
    camera = (sim or {}).get("camera", "simulated")
    if camera != "simulated":
        from sciimg.geometry.camera import load_camera_geometry

        try:
            load_camera_geometry(camera)
        except InputError as error:
            raise ConfigError(f"{key}.data.simulate.camera: {error}") from None


def _check_climate_data(key: str, data: Mapping[str, Any]) -> None:
    if data["time_window"] % 2 == 0:
        raise ConfigError(f"{key}.data.time_window must be odd (the centre is predicted), got {data['time_window']}")
    masks = data["masks"]
    if masks["kind"] == "file" and "file" not in masks:
        raise ConfigError(f"{key}.data.masks.file must name a NetCDF file when masks.kind is 'file'")
    grid = (data.get("simulate") or {}).get("grid")
    if grid and (grid["lat_min"] >= grid["lat_max"] or grid["lon_min"] >= grid["lon_max"]):
        raise ConfigError(f"{key}.data.simulate.grid must have lat_min < lat_max and lon_min < lon_max, got {grid}")


WINDOW_WIDE_NORMS = ("group", "instance")


def _window_wide_norms(options: Any) -> list[str]:
    """Norm layers named anywhere in nested backbone options that normalise over a whole input."""
    if isinstance(options, Mapping):
        found = [v for k, v in options.items() if k == "norm" and v in WINDOW_WIDE_NORMS]
        return found + [n for v in options.values() for n in _window_wide_norms(v)]
    return []


def _check_windowed_model(key: str, model: Mapping[str, Any]) -> None:
    for options in ("backbone_options", "inpaint_backbone_options"):
        norms = _window_wide_norms(model.get(options, {}))
        if norms:
            raise ConfigError(
                f"{key}.model.{options}: norm {norms[0]!r} normalises over a whole input window, so a large "
                "image predicted window by window would depend on the tiling; use 'batch' (or 'none')"
            )


def _check_volume_data(key: str, data: Mapping[str, Any]) -> None:
    grid = data["grid"]
    sides = [grid] * 3 if isinstance(grid, int) else grid
    if len(sides) != 3:
        raise ConfigError(f"{key}.data.grid must be one side or [Z, Y, X], got {grid}")
    sim = data.get("simulate") or {}
    for name in ("vertices", "particles_per_vertex", "muon_mev", "proton_mev", "electron_mev", "photon_mev"):
        if name in sim and sim[name][0] > sim[name][1]:
            raise ConfigError(f"{key}.data.simulate.{name} must be a [low, high] range, got {sim[name]}")


def _check_sky_data(key: str, data: Mapping[str, Any]) -> None:
    if data["patch_size"] > data["tile_size"]:
        raise ConfigError(
            f"{key}.data.patch_size must not exceed tile_size {data['tile_size']}, got {data['patch_size']}"
        )
    for name, values in (data.get("simulate") or {}).items():
        if isinstance(values, list) and len(values) == 2 and name != "shape" and values[0] > values[1]:
            raise ConfigError(f"{key}.data.simulate.{name} must be a [low, high] range, got {values}")


def load_experiment(spec: str, *, check_models: bool = True) -> dict[str, Any]:
    """An experiment spec from a JSON string (as the workflow passes it) or a YAML file path.

    A YAML file may hold a whole config with exactly one experiment, or one experiment.
    ``check_models=False`` skips the network checks, for steps that build no network.
    """
    path = Path(spec)
    if not spec.lstrip().startswith("{") and path.is_file():
        data = yaml.safe_load(path.read_text())
        if "experiments" not in data:
            data = {"experiments": {path.stem: data}}
    else:
        try:
            data = {"experiments": {"experiment": json.loads(spec)}}
        except json.JSONDecodeError as error:
            raise ConfigError(f"--spec must be a YAML file or a JSON object, got {spec[:60]!r} ({error})") from None
    config = validate_config(data, check_models=check_models)
    if len(config["experiments"]) != 1:
        raise ConfigError(f"{spec}: must hold exactly one experiment, got {sorted(config['experiments'])}")
    return next(iter(config["experiments"].values()))
