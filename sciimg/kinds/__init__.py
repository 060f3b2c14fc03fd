"""Experiment kinds: the (modality, task) pairs sciimg runs, each declared once.

A :class:`Kind` names every piece one experiment kind uses, from simulator to report
section. Pieces that import heavy libraries (PyTorch, ctapipe, scikit-learn ...) are named
by ``"module:attribute"`` and imported on first use (:meth:`Kind.load`), so validating a
config or starting ``sciimg`` stays fast. Small pure functions (config checks, the input
layout, the dataset's options) are plain callables of the modality's module.

Each modality has one module in this package with a ``KINDS`` tuple; the registry finds
every such module by itself, so adding a kind is one module (plus its schema entry).
Everything else (cli, Snakefile, fit, predict, baselines, evaluate, report) asks the kind.
The kinds sit on top of the layers, but this registry imports none of them (only errors
and path expansion), so a stage in any layer may look its kind up without an import circle.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sciimg.errors import ConfigError, InputError
from sciimg.io.inputs import expand_inputs

Spec = Mapping[str, Any]


def no_check(key: str, spec: Spec) -> None:
    """A kind whose config needs no check beyond the schema."""


def no_card(spec: Spec, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A kind whose model card needs nothing beyond the common fields."""
    return {}


WINDOW_WIDE_NORMS = ("group", "instance")


def _window_wide_norms(options: Any) -> list[str]:
    """Norm layers named anywhere in nested backbone options that normalise over a whole input."""
    if isinstance(options, Mapping):
        found = [v for k, v in options.items() if k == "norm" and v in WINDOW_WIDE_NORMS]
        return found + [n for v in options.values() for n in _window_wide_norms(v)]
    return []


def check_windowed_model(key: str, model: Mapping[str, Any]) -> None:
    """A model predicted window by window must not normalise over a whole window."""
    for options in ("backbone_options", "inpaint_backbone_options"):
        norms = _window_wide_norms(model.get(options, {}))
        if norms:
            raise ConfigError(
                f"{key}.model.{options}: norm {norms[0]!r} normalises over a whole input window, so a large "
                "image predicted window by window would depend on the tiling; use 'batch' (or 'none')"
            )


def data_keys(*keys: str) -> Callable[[Spec], dict[str, Any]]:
    """Dataset options: these keys of the data section."""
    return lambda spec: {key: spec["data"][key] for key in keys}


@dataclass(frozen=True)
class Kind:
    """One experiment kind: what each pipeline stage uses for a (modality, task) pair.

    Fields holding a ``"module:attribute"`` string are imported on first use by :meth:`load`;
    the others are cheap values or functions.
    """

    modality: str
    task: str
    # simulate and ingest
    simulator: str  # module:function(output, seed=, provenance=, **data.simulate) writing native files
    raw_name: str  # what the simulator writes in data/raw/<experiment>/ (a file, or a folder of files)
    ingester: str  # module:function(inputs, out_dir, spec, **ingest_options) -> {split: store path}
    # fit
    task_class: str  # module:LightningModule that trains the predictor
    predictor: str  # module:Predictor (plain torch) that a model folder rebuilds for inference
    dataset: str  # module:Dataset, built as cls(path, train, seed, **dataset_options(spec))
    dataset_options: Callable[[Spec], dict[str, Any]]
    input_layout: Callable[[Spec], tuple[int, int]]  # spec -> (in_channels, spatial_dims)
    # predict
    model_class: str  # module:TrainedModel subclass that load_model returns
    predict: str  # module:function(model, input paths, output) -> output path
    output_suffix: str  # of predictions and baseline outputs
    # baselines, evaluate, report
    baselines: tuple[str, ...]
    baseline_runner: str  # module:function(name, train store, test store, output[, val=val store]) -> output path
    evaluate: str  # module:function(experiment, predictions, test, out_dir, **evaluate_options)
    figures: tuple[str, ...]  # PNG files evaluate writes; caption: workflow/report/<stem>.rst
    report_section: str  # module:function(metrics, folder) -> HTML
    # export
    graph: str  # module:function(model) -> Graph (sciimg.inference.graphs) that `sciimg export` writes as ONNX
    # the metric (of the model's entry in metrics.json) that says whether a model got worse, and its better side
    headline: tuple[str, str]  # (metric, "higher" | "lower"); `sciimg compress` checks it on validation
    # config checks and the model card
    check_data: Callable[[str, Spec], None] = no_check  # (config key prefix, experiment) -> raises ConfigError
    card: Callable[[Spec, Mapping[str, Any]], dict[str, Any]] = no_card  # (spec, train store attrs) -> card fields
    calibrate: str | None = None  # module:function(task, val store, spec) -> card fields, chosen on validation
    # what the model needs at predict time from the train store's arrays (per-tile models need none)
    keeps_train_arrays: bool = False
    needs_classes: bool = False  # a voxel classifier: model.n_classes must equal the data's classes
    ingest_options: Mapping[str, Any] = field(default_factory=dict)  # what this kind's stores hold
    evaluate_options: Mapping[str, Any] = field(default_factory=dict)  # keyword arguments of evaluate

    @property
    def name(self) -> str:
        """``<modality>_<task>``, as in rule names."""
        return f"{self.modality}_{self.task}"

    def load(self, attribute: str) -> Any:
        """Import the object named by the "module:attribute" string in field ``attribute``."""
        module, _, name = getattr(self, attribute).partition(":")
        return getattr(importlib.import_module(module), name)


HEADLINE_SIDES = ("higher", "lower")


@cache
def _registry() -> dict[tuple[str, str], Kind]:
    """Every kind of every module in this package."""
    kinds: dict[tuple[str, str], Kind] = {}
    for module in pkgutil.iter_modules(__path__):
        for kind in importlib.import_module(f"{__name__}.{module.name}").KINDS:
            if (kind.modality, kind.task) in kinds:
                raise ValueError(f"kind {kind.name} is declared twice (second time in {module.name})")
            if kind.headline[1] not in HEADLINE_SIDES:
                raise ValueError(
                    f"kind {kind.name}: headline side must be one of {HEADLINE_SIDES}, got {kind.headline[1]!r}"
                )
            kinds[kind.modality, kind.task] = kind
    return kinds


def all_kinds() -> list[Kind]:
    """Every registered kind, sorted by modality and task."""
    return [kind for _, kind in sorted(_registry().items())]


def get_kind(modality: str | None, task: str | None) -> Kind:
    """The kind of a (modality, task) pair.

    Raises:
        ConfigError: the pair is not supported (the message lists what is).
    """
    kinds = _registry()
    if (modality, task) in kinds:
        return kinds[modality, task]  # type: ignore[index]
    tasks = sorted(t for m, t in kinds if m == modality)
    if tasks:
        raise ConfigError(f"task must be one of {tasks} for {modality}, got {task!r}")
    raise ConfigError(f"modality must be one of {sorted({m for m, _ in kinds})}, got {modality!r}")


def kind_of(record: Mapping[str, Any]) -> Kind:
    """The kind of an experiment spec, a model card, a store's attributes or a metrics record."""
    return get_kind(record.get("modality"), record.get("task"))


def require_kind(path: str | os.PathLike, record: Mapping[str, Any], kind: Kind, expected: str) -> None:
    """Raise InputError naming ``path`` when ``record`` (a store's attributes) is not of ``kind``;
    ``expected`` says who wants that kind ("the model m", "the test store t")."""
    try:
        theirs = kind_of(record)
    except ConfigError:
        raise InputError(f"{path}: not a sample store of any kind sciimg knows; {expected} needs {kind.name}") from None
    if theirs.name != kind.name:
        raise InputError(
            f"{path}: a sample store of {theirs.modality} {theirs.task}, but {expected} is {kind.modality} {kind.task}"
        )


def ingest(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, spec: Spec) -> dict[str, Path]:
    """Ingest files (paths or globs) for the experiment ``spec`` into ``out_dir/{train,val,test}.h5``, as its kind
    does."""
    kind = kind_of(spec)
    return kind.load("ingester")(expand_inputs(inputs), Path(out_dir), spec, **kind.ingest_options)


__all__ = ["Kind", "all_kinds", "check_windowed_model", "data_keys", "get_kind", "ingest", "kind_of", "require_kind"]
