"""Compress a trained model: distil a narrower student and/or quantise its window pass to int8, measure the
result against the original on validation, and publish it only when it keeps the accuracy.

The student is the same task with every channel width scaled down (:func:`narrow`), trained
on the training split toward both the targets and the original's outputs
(:meth:`~sciimg.tasks.base.BaseTask.distil_from`); int8 graphs come from
:mod:`sciimg.inference.quantize`. Both models then predict the validation split, the kind's
own evaluation scores them, and the kind's headline metric (:attr:`~sciimg.kinds.Kind.headline`)
decides: the compressed model is published when it is at most ``max_loss`` (relative) worse.
The prediction time of both, measured in the same run, gives the speed-up. The original model folder
is never touched.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciimg.errors import ConfigError, InputError
from sciimg.inference.export import WEIGHTS, export_trained, file_sha256, read_card
from sciimg.inference.load import TrainedModel, load_model
from sciimg.inference.quantize import quantize_windows
from sciimg.io.atomic import atomic_directory
from sciimg.kinds import Kind, kind_of
from sciimg.tasks.fit import fit

REPORT = "compression.json"
MODEL = "model"
WIDTH_MULTIPLE = 4  # inception blocks split a width in four; group norm takes up to 8 groups
OPTIONS_NARROWED = ("backbone_options", "inpaint_backbone_options")
DEFAULTS = {"width": 0.5, "distil_weight": 1.0, "max_loss": 0.01, "quantize": "none"}
TIMING_ROUNDS = 2


def narrow(options: Any, factor: float) -> tuple[Any, int]:
    """A copy of nested network options with every ``widths`` list scaled by ``factor`` (rounded to a multiple
    of 4, at least 4); and how many lists were scaled."""
    if isinstance(options, Mapping):
        narrowed, count = {}, 0
        for key, value in options.items():
            if key == "widths" and isinstance(value, list | tuple):
                narrowed[key] = [
                    max(WIDTH_MULTIPLE, round(w * factor / WIDTH_MULTIPLE) * WIDTH_MULTIPLE) for w in value
                ]
                count += 1
            else:
                narrowed[key], found = narrow(value, factor)
                count += found
        return narrowed, count
    return options, 0


def student_spec(spec: Mapping[str, Any], options: Mapping[str, Any], teacher_sha256: str) -> dict[str, Any]:
    """The experiment spec of the student: narrower networks, its own epochs, and what it is distilled from.

    Raises:
        ConfigError: the model's options name no channel widths to narrow.
    """
    student = {k: copy.deepcopy(v) for k, v in spec.items() if k != "compress"}
    scaled = 0
    for key in OPTIONS_NARROWED:
        if key in student["model"]:
            student["model"][key], count = narrow(student["model"][key], options["width"])
            scaled += count
    if not scaled:
        raise ConfigError(
            "compress needs the model's channel widths: give model.backbone_options.widths (or "
            "encoder_options.widths for a U-Net), got no widths list"
        )
    # one process on one device: the student is small, and compress runs as one job
    student["trainer"] = {**student["trainer"], "devices": 1, "num_nodes": 1, "strategy": "auto"}
    if options.get("max_epochs"):
        student["trainer"]["max_epochs"] = options["max_epochs"]
        student["model"]["max_epochs"] = options["max_epochs"]
    student["distillation"] = {"teacher_weights_sha256": teacher_sha256, **options}
    return student


def relative_loss(original: float, compressed: float, side: str) -> float:
    """How much worse ``compressed`` is than ``original``, as a fraction of ``original`` (negative: better).

    ``side`` is where the metric is better: ``higher`` (efficiencies, F1, PSNR) or ``lower`` (RMSE,
    resolution).
    """
    worse = original - compressed if side == "higher" else compressed - original
    return worse / abs(original) if original else (0.0 if worse <= 0 else float("inf"))


def predict_and_time(kind: Kind, models: Mapping[str, TrainedModel], val: Path, work: Path) -> dict[str, float]:
    """Each model's predictions on the validation split, in ``work/<name>/``; the seconds each took.

    The models take turns for :data:`TIMING_ROUNDS` rounds and each keeps its fastest round, so
    neither pays alone for warming caches and thread pools, nor for a busy moment of the machine.
    """
    seconds: dict[str, float] = {}
    for _ in range(TIMING_ROUNDS):
        for name, model in models.items():
            (work / name).mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            kind.load("predict")(model, [val], work / name / f"predictions.{kind.output_suffix}")
            seconds[name] = min(seconds.get(name, float("inf")), time.perf_counter() - started)
    return seconds


def validation_metrics(kind: Kind, experiment: str, val: Path, work: Path) -> dict[str, float]:
    """The kind's evaluation of the predictions in ``work`` on the validation split: the model's numbers."""
    predictions = {"model": str(work / f"predictions.{kind.output_suffix}")}
    kind.load("evaluate")(experiment, predictions, str(val), str(work), **kind.evaluate_options)
    metrics = json.loads((work / "metrics.json").read_text())["methods"]["model"]
    return {k: v for k, v in metrics.items() if isinstance(v, int | float)}


def compress(
    spec: Mapping[str, Any],
    experiment: str,
    model_dir: str | os.PathLike,
    store_dir: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    output: str | os.PathLike,
) -> dict[str, Any]:
    """Compress the model in ``model_dir`` as the experiment's ``compress`` section says, and write
    ``output/`` atomically: ``compression.json`` (both models' validation metrics, the headline's loss, the
    speed-up, whether it was published) and, when published, the compressed model folder ``output/model``.

    Returns:
        the content of ``compression.json``.

    Raises:
        InputError: the model folder is not a model of this experiment's kind.
        ConfigError: the section changes nothing, or asks int8 of a model that does not predict by windows.
    """
    model_dir, store_dir, output = Path(model_dir), Path(store_dir), Path(output)
    kind = kind_of(spec)
    card = read_card(model_dir)
    if kind_of(card).name != kind.name:
        raise InputError(f"{model_dir}: a {card['modality']} {card['task']} model, the experiment is {kind.name}")
    options = {**DEFAULTS, **spec.get("compress", {})}
    distil = options["width"] < 1
    if not distil and options["quantize"] == "none":
        raise ConfigError("compress with width 1 and quantize none would change nothing: narrow, quantise, or both")
    metric, side = kind.headline
    with atomic_directory(output) as tmp:
        candidate = tmp / MODEL
        if distil:
            distil_student(spec, experiment, model_dir, store_dir, checkpoint_dir, options, candidate)
        else:
            shutil.copytree(model_dir, candidate)
        if options["quantize"] == "int8":
            quantize_windows(candidate, store_dir / "train.h5", tmp / "calibration")
        val, work = store_dir / "val.h5", tmp / "validation"
        models = {"original": load_model(model_dir), "compressed": load_model(candidate)}
        seconds = predict_and_time(kind, models, val, work)
        original_metrics = validation_metrics(kind, experiment, val, work / "original")
        student_metrics = validation_metrics(kind, experiment, val, work / "compressed")
        original_seconds, student_seconds = seconds["original"], seconds["compressed"]
        loss = relative_loss(original_metrics[metric], student_metrics[metric], side)
        published = loss <= options["max_loss"]
        report = {
            "experiment": experiment,
            "kind": kind.name,
            "options": options,
            "headline": {"metric": metric, "better": side},
            "original": {
                "model": str(model_dir),
                "parameters": parameter_count(models["original"]),
                "seconds_on_validation": original_seconds,
                "metrics": original_metrics,
            },
            "compressed": {
                "parameters": parameter_count(models["compressed"]),
                "seconds_on_validation": student_seconds,
                "metrics": student_metrics,
                "predictor_options": models["compressed"].metadata["predictor_options"],
            },
            "headline_loss": loss,
            "speedup": original_seconds / student_seconds if student_seconds > 0 else None,
            "published": published,
        }
        for scratch in ("validation", "calibration"):
            shutil.rmtree(tmp / scratch, ignore_errors=True)
        if not published:
            shutil.rmtree(candidate)
        (tmp / REPORT).write_text(json.dumps(report, indent=2))
    return report


def distil_student(
    spec: Mapping[str, Any],
    experiment: str,
    model_dir: Path,
    store_dir: Path,
    checkpoint_dir: str | os.PathLike,
    options: Mapping[str, Any],
    output: Path,
) -> Path:
    """Train the narrower student of the model in ``model_dir`` toward it and write its model folder ``output``."""
    teacher = load_model(model_dir).network
    student = student_spec(spec, options, file_sha256(model_dir / WEIGHTS))
    task, _ = fit(student, store_dir, checkpoint_dir, teacher=teacher, distil_weight=options["distil_weight"])
    distilled_from = {"distilled_from": {"model": str(model_dir), **student["distillation"]}}
    return export_trained(task, store_dir, student, experiment, output, distilled_from)


def parameter_count(model: TrainedModel) -> int:
    """Number of weights of a model's predictor."""
    return sum(p.numel() for p in model.network.parameters())
