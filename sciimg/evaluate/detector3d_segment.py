"""Voxel segmentation metrics on held-out events: per-class precision, recall and F1 on occupied voxels.

Only occupied voxels are scored (empty space is not a class), so a method cannot look
good by calling emptiness empty. Mean F1 is over the five physics classes; the noise
class (electronic-noise hits) is reported on its own and in ``mean_f1_with_noise``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.errors import InputError
from sciimg.evaluate.detector3d_plots import plot_event_views
from sciimg.evaluate.verdict import verdict
from sciimg.io.atomic import write_text_atomic
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import stored_events
from sciimg.io.volumes import SparseEvent, read_volume_events, volume_file_attrs
from sciimg.scoring import class_scores

log = logging.getLogger(__name__)
VIEW_EVENTS = 3


def _rounded(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values]


def method_metrics(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """metrics.json entries of one method."""
    scores = class_scores(truth, predicted, len(classes))
    physics = [i for i, name in enumerate(classes) if name != "noise"]
    out: dict[str, Any] = {
        "mean_f1": float(np.nanmean(scores["f1"][physics])),
        "mean_f1_with_noise": float(np.nanmean(scores["f1"])),
        "accuracy": float(np.mean(truth == predicted)),
    }
    for i, name in enumerate(classes):
        out[f"f1_{name}"] = None if not np.isfinite(scores["f1"][i]) else float(scores["f1"][i])
    out["precision"] = _rounded(scores["precision"])
    out["recall"] = _rounded(scores["recall"])
    out["confusion"] = scores["confusion"].tolist()
    return out


def mean_f1_of_confusions(physics: list[int], n_classes: int) -> Callable[[np.ndarray], float]:
    """The mean physics-class F1 of summed per-event confusion matrices (rows: flattened ``n x n`` matrices)."""

    def figure(rows: np.ndarray) -> float:
        confusion = rows.sum(axis=0).reshape(n_classes, n_classes)
        tp = np.diag(confusion)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = 2 * tp / (confusion.sum(axis=0) + confusion.sum(axis=1))
        return float(np.nanmean(f1[physics]))

    return figure


def event_confusions(truth: np.ndarray, predicted: np.ndarray, sizes: list[int], n_classes: int) -> np.ndarray:
    """Per event, the flattened confusion matrix of its voxels (rows true, columns predicted)."""
    starts = np.repeat(np.arange(len(sizes)), sizes)
    cells = (starts * n_classes + truth) * n_classes + predicted
    return np.bincount(cells, minlength=len(sizes) * n_classes**2).reshape(len(sizes), -1)


def predicted_labels(path: str | os.PathLike, truth: list[SparseEvent]) -> np.ndarray:
    """A method's classes for every truth voxel, checked to be the same events and voxels."""
    events = list(read_volume_events(path))
    if [e.event_id for e in events] != [e.event_id for e in truth]:
        raise InputError(f"{path}: events differ from the test store's")
    for event, true in zip(events, truth, strict=True):
        if len(event.values) != len(true.values):
            raise InputError(
                f"{path}: event {event.event_id} has {len(event.values)} voxels, the store {len(true.values)}"
            )
    return np.concatenate([e.semantic for e in events]).astype(np.int64)


def evaluate_volume_segmentation(
    experiment: str, predictions: Mapping[str, str], test: str | os.PathLike, out_dir: str | os.PathLike
) -> dict[str, Any]:
    """metrics.json and the event views for every method on the test store."""
    store = SampleStore(test)
    classes = list(store.attrs["classes"])
    truth = stored_events(store)
    true_labels = np.concatenate([e.semantic for e in truth]).astype(np.int64)
    methods, labelled, confusions = {}, {}, {}
    sizes = [len(e.values) for e in truth]
    for name, path in predictions.items():
        predicted = predicted_labels(path, truth)
        methods[name] = method_metrics(true_labels, predicted, classes)
        confusions[name] = event_confusions(true_labels, predicted, sizes, len(classes))
        seconds = volume_file_attrs(path).get("seconds_per_event")
        if seconds:
            methods[name]["seconds_per_event_median"] = float(np.median(seconds))
        labelled[name] = np.split(predicted, np.cumsum([len(e.values) for e in truth])[:-1])
        log.info("%s: mean F1 %.3f", name, methods[name]["mean_f1"])
    out_dir = Path(out_dir)
    figure = "volume_views.png"
    plot_event_views(
        truth[:VIEW_EVENTS], {n: labels[:VIEW_EVENTS] for n, labels in labelled.items()}, classes, out_dir / figure
    )
    counts = np.bincount(true_labels, minlength=len(classes))
    physics = [i for i, name in enumerate(classes) if name != "noise"]
    model = next(iter(predictions))
    mean_f1 = mean_f1_of_confusions(physics, len(classes))
    headline = verdict("mean F1 of the physics classes", confusions, mean_f1, False, model, list(methods), "events")
    metrics = {
        "experiment": experiment,
        "task": "segmentation",
        "modality": "detector3d",
        "verdict": headline,
        "n_test_events": len(truth),
        "classes": classes,
        "voxels_per_class": {name: int(n) for name, n in zip(classes, counts, strict=True)},
        "methods": methods,
        "figures": [figure],
        "definitions": {
            "mean_f1": "mean over the physics classes (all but noise) of the per-class F1, on occupied voxels only",
            "f1_<class>": "2 precision recall / (precision + recall) of one class on the test events' occupied voxels",
            "confusion": "voxel counts, rows the true class, columns the predicted class (order of classes)",
            "seconds_per_event_median": "wall time of inference per event (this machine's CPU)",
        },
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics
