"""Configuration: validate against the workflow's JSON schema, fill defaults, explain errors."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from sciimg.errors import ConfigError
from sciimg.kinds import kind_of

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
    if error.validator == "minProperties" and where == "experiments":
        return "config key experiments names no experiment; give at least one"
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


def check_experiment(name: str, experiment: Mapping[str, Any]) -> None:
    """Cross-field checks the schema cannot express; the experiment's kind checks its own data."""
    key = f"config key experiments.{name}"
    try:
        kind = kind_of(experiment)
    except ConfigError as error:
        raise ConfigError(f"{key}.{error}") from None
    wrong = [b for b in experiment["baselines"] if b not in kind.baselines]
    if wrong:
        raise ConfigError(
            f"{key}.baselines must be among {list(kind.baselines)} for {kind.modality} {kind.task}, got {wrong}"
        )
    split = experiment["data"]["split"]
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
    kind.check_data(key, experiment)


def check_model(name: str, experiment: Mapping[str, Any]) -> None:
    """The ``model`` section builds: options the task accepts, a backbone that takes the input."""
    key = f"config key experiments.{name}"
    from sciimg.nets import build  # PyTorch: seconds, paid only by steps that build a network
    from sciimg.tasks.fit import task_options

    kind = kind_of(experiment)
    in_channels, spatial_dims = kind.input_layout(experiment)
    try:
        task_options(experiment, kind.load("task_class"), in_channels, spatial_dims)
    except ConfigError as error:
        raise ConfigError(f"{key}.model: {error}") from None
    backbone_options = experiment["model"].get("backbone_options", {})
    try:
        build(experiment["model"].get("backbone", "resnet18"), spatial_dims, in_channels, **backbone_options)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key}.model: {error}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (YAML itself keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML config file as a mapping.

    Raises:
        ConfigError: naming the file: not readable, not YAML, not a mapping, or a key given twice.
    """
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line} ({getattr(error, 'problem', None) or error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot be read ({error})") from None
    if data is None:
        raise ConfigError(f"{path}: is empty; a config is a YAML mapping of keys")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a YAML mapping of keys, got {type(data).__name__}")
    return data


def load_experiment(spec: str, *, check_models: bool = True) -> dict[str, Any]:
    """An experiment spec from a JSON string (as the workflow passes it) or a YAML file path.

    A YAML file may hold a whole config with exactly one experiment, or one experiment.
    ``check_models=False`` skips the network checks, for steps that build no network.
    """
    path = Path(spec)
    if not spec.lstrip().startswith("{") and path.is_file():
        data = read_config_file(path)
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
