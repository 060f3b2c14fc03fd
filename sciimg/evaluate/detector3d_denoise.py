"""Noise-voxel removal on held-out events: noise removed, signal kept, and which physics is lost.

Each method's file holds the kept voxels of every test event. A voxel of the test store is
kept when the file holds it. Scores are over all occupied voxels of the test events:

* ``noise_removed``: the share of noise voxels removed, also per noise kind (isolated hits,
  noisy pixels, coherent bursts) where the store knows the kind;
* ``signal_kept`` and ``signal_charge_kept``: the share of signal voxels, and of their
  charge, that is kept; ``kept_<class>`` is the same per truth class (low-energy scatters
  and delta rays are what a blind isolation cut throws away);
* ``kept_purity``: the share of kept voxels that are signal; ``noise_f1``: the F1 of the
  removed voxels as a finder of noise (the figure both methods are tuned for).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.baselines.detector3d_denoise import noise_f1
from sciimg.errors import InputError
from sciimg.evaluate.detector3d_plots import plot_event_views
from sciimg.evaluate.verdict import f1_figure, verdict
from sciimg.geometry.voxels import VoxelGrid
from sciimg.io.atomic import write_text_atomic
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import stored_events
from sciimg.io.volumes import SparseEvent, read_volume_events, volume_file_attrs
from sciimg.simulate.detector3d import NOISE_KINDS

log = logging.getLogger(__name__)
VIEW_EVENTS = 3
VIEW_CLASSES = ["signal (truth) / kept", "noise (truth) / removed"]


def kept_mask(path: str | os.PathLike, truth: list[SparseEvent], grid: VoxelGrid) -> np.ndarray:
    """For every truth voxel (events concatenated), whether the method's file keeps it.

    Raises:
        InputError: the file's events differ from the store's, or it holds a voxel the event has not.
    """
    events = list(read_volume_events(path))
    if [e.event_id for e in events] != [e.event_id for e in truth]:
        raise InputError(f"{path}: events differ from the test store's")
    kept = []
    for event, true in zip(events, truth, strict=True):
        true_flat = np.ravel_multi_index(np.asarray(true.coords, np.int64).T, grid.shape)
        index, inside = grid.index(event.coords)
        flat = np.ravel_multi_index(index[inside].T, grid.shape)
        if not inside.all() or not np.isin(flat, true_flat).all():
            raise InputError(f"{path}: event {event.event_id} keeps voxels the test event does not have")
        kept.append(np.isin(true_flat, flat))
    return np.concatenate(kept) if kept else np.zeros(0, bool)


def _share(part: np.ndarray, whole: np.ndarray) -> float | None:
    total = float(whole.sum())
    return float(part.sum()) / total if total else None


def removal_counts(kept: np.ndarray, is_noise: np.ndarray, events: np.ndarray, n_events: int) -> np.ndarray:
    """Per event, removal as a noise finder: noise removed, signal removed, noise kept (TP, FP, FN)."""
    removed = ~kept
    parts = (is_noise & removed, ~is_noise & removed, is_noise & kept)
    return np.stack([np.bincount(events, part, n_events) for part in parts], axis=1)


def method_metrics(
    kept: np.ndarray,
    is_noise: np.ndarray,
    charge: np.ndarray,
    n_events: int,
    truth_class: np.ndarray | None = None,
    truth_classes: list[str] | None = None,
    noise_kind: np.ndarray | None = None,
) -> dict[str, Any]:
    """metrics.json entries of one method (see the module docstring)."""
    signal = ~is_noise
    out: dict[str, Any] = {
        "noise_removed": _share(is_noise & ~kept, is_noise),
        "signal_kept": _share(signal & kept, signal),
        "signal_charge_kept": _share(np.where(signal & kept, charge, 0.0), np.where(signal, charge, 0.0)),
        "kept_purity": _share(signal & kept, kept),
        "noise_f1": noise_f1(is_noise, ~kept),
        "noise_left_per_event": float((is_noise & kept).sum()) / max(n_events, 1),
    }
    if noise_kind is not None:
        for k, kind in enumerate(NOISE_KINDS):
            this = is_noise & (noise_kind == -(k + 1))
            if this.any():
                out[f"noise_removed_{kind}"] = _share(this & ~kept, this)
    if truth_class is not None and truth_classes is not None:
        for c, name in enumerate(truth_classes):
            this = signal & (truth_class == c)
            if this.any():
                out[f"kept_{name}"] = _share(this & kept, this)
    return out


def evaluate_volume_denoising(
    experiment: str, predictions: Mapping[str, str], test: str | os.PathLike, out_dir: str | os.PathLike
) -> dict[str, Any]:
    """metrics.json and the event views for every method on the test store."""
    store = SampleStore(test)
    noise = list(store.attrs["classes"]).index("noise")
    grid = VoxelGrid.of(**store.attrs["grid"])
    truth = stored_events(store)
    extra = store.extra()
    is_noise = np.concatenate([e.semantic for e in truth]) == noise
    charge = np.concatenate([e.values for e in truth]).astype(float)
    truth_class, truth_classes = extra.get("occupied_truth_class"), store.attrs.get("truth_classes")
    instance = extra.get("occupied_instance")
    noise_kind = instance if instance is not None and (instance[is_noise] < 0).all() else None
    splits = np.cumsum([len(e.values) for e in truth])[:-1]
    methods, removed_views, counts = {}, {}, {}
    events = np.repeat(np.arange(len(truth)), [len(e.values) for e in truth])
    for name, path in predictions.items():
        kept = kept_mask(path, truth, grid)
        counts[name] = removal_counts(kept, is_noise, events, len(truth))
        methods[name] = method_metrics(kept, is_noise, charge, len(truth), truth_class, truth_classes, noise_kind)
        seconds = volume_file_attrs(path).get("seconds_per_event")
        if seconds:
            methods[name]["seconds_per_event_median"] = float(np.median(seconds))
        removed_views[name] = np.split((~kept).astype(np.int8), splits)[:VIEW_EVENTS]
        log.info(
            "%s: noise removed %.3f, signal kept %.3f",
            name,
            methods[name]["noise_removed"] or 0.0,
            methods[name]["signal_kept"] or 0.0,
        )
    out_dir = Path(out_dir)
    figure = "denoise_views.png"
    plot_event_views(truth[:VIEW_EVENTS], removed_views, VIEW_CLASSES, out_dir / figure)
    headline = verdict("noise F1", counts, f1_figure, False, next(iter(methods)), list(methods), "events")
    metrics = {
        "experiment": experiment,
        "task": "denoising",
        "modality": "detector3d",
        "verdict": headline,
        "n_test_events": len(truth),
        "voxels": {"signal": int((~is_noise).sum()), "noise": int(is_noise.sum())},
        "methods": methods,
        "figures": [figure],
        "definitions": {
            "noise_removed": "share of noise voxels removed (per kind: noise_removed_<kind>)",
            "signal_kept": "share of signal voxels kept (per truth class: kept_<class>)",
            "signal_charge_kept": "share of the signal voxels' charge kept",
            "kept_purity": "share of the kept voxels that are signal",
            "noise_f1": "F1 of the removed voxels as a finder of noise voxels",
            "noise_left_per_event": "noise voxels kept, per test event",
            "seconds_per_event_median": "wall time of removal per event (this machine's CPU)",
        },
    }
    write_text_atomic(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics
