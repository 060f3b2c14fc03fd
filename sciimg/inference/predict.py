"""Predict with a trained model on store splits or native files; write outputs atomically."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table, vstack

from sciimg.errors import InputError
from sciimg.inference.load import Regressor, TrainedModel, load_model
from sciimg.io.atomic import atomic_path
from sciimg.io.dl1 import read_events
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance


def _events(model: Regressor, path: Path) -> tuple[Table, np.ndarray, np.ndarray | None]:
    """Event columns (ids, truth when known) and predictions for a sample store or a native file."""
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as h5:
            is_store = "image" in h5 and "meta" in h5
    else:
        is_store = False
    if is_store:
        store = SampleStore(path)
        columns = Table(store.meta())
        mean, std = model.predict_normalised(model.normalise(store.read("image")))
        store.close()
        return columns, mean, std
    events = read_events(path)
    columns = events.table[[c for c in events.table.colnames if c not in ("image", "peak_time")]]
    if model.metadata.get("heteroscedastic"):
        mean, std = model.predict(events.table, return_std=True)
        return columns, mean.value, std.value
    return columns, model.predict(events.table).value, None


def predict_regression(model: Regressor, inputs: list[Path]) -> Table:
    """One row per event: ids, truth when the input has it, prediction and its std."""
    target = model.metadata["target_name"]
    reco = "reco_" + target.removeprefix("true_")
    unit = model.units or None
    tables = []
    for path in inputs:
        columns, mean, std = _events(model, path)
        table = Table()
        for key in ("obs_id", "event_id", "tel_id", target):
            if key in columns.colnames:
                table[key] = columns[key]
        if target in table.colnames and table[target].unit is None:
            table[target].unit = unit
        table[reco] = mean
        table[reco].unit = unit
        if std is not None:
            table[reco + "_std"] = std
            table[reco + "_std"].unit = unit
        table["input_file"] = path.name
        tables.append(table)
    result = vstack(tables) if len(tables) > 1 else tables[0]
    result.meta.update({"model": str(model.path), "experiment": model.metadata["experiment"], "target": target})
    return result


def predict(model_dir: str | os.PathLike, inputs: list[str], output: str | os.PathLike) -> Path:
    """Run a trained model on ``inputs`` and write ``output`` (ECSV table for regressors)."""
    model: TrainedModel = load_model(model_dir)
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: input file does not exist")
    if not isinstance(model, Regressor):
        raise InputError(f"{model_dir}: prediction for task {model.metadata['task']!r} is not available yet")
    table = predict_regression(model, paths)
    table.meta["provenance"] = provenance(inputs=[*paths, model.path / "model.ckpt"])
    with atomic_path(output) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(output)
