"""Evaluate a regressor and its baselines on the same held-out events; write metrics.json."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from sciimg.errors import InputError
from sciimg.evaluate.energy import energy_bins, resolution_and_bias, uncertainty_coverage
from sciimg.evaluate.plots import plot_camera_examples, plot_energy_performance
from sciimg.io.atomic import write_text_atomic
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance


def _read(path: Path, target: str) -> Table:
    table = Table.read(path, format="ascii.ecsv")
    if "event_id" not in table.colnames:
        raise InputError(f"{path}: prediction table must have an 'event_id' column, got {table.colnames}")
    if target not in table.colnames:
        raise InputError(
            f"{path}: has no {target!r} column: its input carried no simulation truth, "
            "so there is nothing to evaluate the predictions against"
        )
    table.sort(["obs_id", "event_id"] if "obs_id" in table.colnames else ["event_id"])
    return table


def evaluate_energy(
    experiment: str,
    predictions: Mapping[str, str | os.PathLike],
    test_store: str | os.PathLike,
    output_dir: str | os.PathLike,
) -> dict[str, Any]:
    """Energy bias/resolution per bin for every method, on identical test events.

    Args:
        experiment: experiment name.
        predictions: method name -> ECSV table with ``true_energy`` and ``reco_energy``.
        test_store: the test split (for example images in the plots).
        output_dir: where ``metrics.json``, ``energy_resolution.png`` and
            ``examples.png`` go.
    """
    output_dir = Path(output_dir)
    tables = {name: _read(Path(path), "true_energy") for name, path in predictions.items()}
    reference_name, reference = next(iter(tables.items()))
    for name, table in tables.items():
        if len(table) != len(reference) or np.any(table["event_id"] != reference["event_id"]):
            raise InputError(f"{predictions[name]}: events differ from those of {reference_name}")
    true_energy = np.asarray(reference["true_energy"], float)
    edges = energy_bins(true_energy)
    methods = {}
    for name, table in tables.items():
        reco = np.asarray(table["reco_energy"], float)
        methods[name] = resolution_and_bias(true_energy, reco, edges)
        if "reco_energy_std" in table.colnames:
            methods[name]["coverage_1sigma"] = uncertainty_coverage(
                true_energy, reco, np.asarray(table["reco_energy_std"], float)
            )
    metrics = {
        "experiment": experiment,
        "task": "regression",
        "target": "true_energy",
        "n_test_events": len(true_energy),
        "methods": methods,
        "bins": {"true_energy_edges_tev": edges.tolist()},
        "definitions": {
            "bias": "median of E_reco/E_true - 1 per bin of true energy",
            "resolution": "68% containment of |E_reco/E_true - 1| per bin of true energy",
            "coverage_1sigma": "fraction of events with |E_reco - E_true| <= predicted std",
        },
        "provenance": provenance(inputs=[*predictions.values(), test_store]),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    plot_energy_performance(metrics, output_dir / "energy_resolution.png")
    _plot_examples(test_store, tables, output_dir / "examples.png")
    write_text_atomic(output_dir / "metrics.json", json.dumps(metrics, indent=2))
    return metrics


def _plot_examples(test_store: str | os.PathLike, tables: Mapping[str, Table], path: Path) -> None:
    store = SampleStore(test_store)
    valid = store.extra()["valid_mask"].astype(bool)
    meta = store.meta()
    energy = meta["true_energy"]
    picks = [int(np.argmin(np.abs(np.log10(energy) - q))) for q in np.quantile(np.log10(energy), [0.1, 0.4, 0.7, 0.95])]
    model_name, model = next(iter(tables.items()))
    reco = dict(zip(np.asarray(model["event_id"]), np.asarray(model["reco_energy"]), strict=True))
    titles = [
        f"E_true {energy[i]:.3g} TeV\n{model_name}: {reco.get(meta['event_id'][i], np.nan):.3g} TeV" for i in picks
    ]
    grids = np.stack([store[i]["image"][0] for i in picks])
    plot_camera_examples(grids, valid, titles, path)
    store.close()
