"""Predict with a trained model on store splits or native files; write outputs atomically."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from astropy.table import Table, vstack

from sciimg.errors import InputError
from sciimg.geometry.hexgrid import AxialMapping
from sciimg.inference.load import Regressor, TrainedModel, load_model
from sciimg.io.atomic import atomic_path
from sciimg.io.dl1 import read_dl1
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance


def _camera_events(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, str]]:
    """Camera-pixel images plus per-event columns (ids, truth if known) from a store or DL1 file."""
    try:
        with h5py.File(path, "r") as h5:
            is_dl1 = "dl1" in h5
    except OSError as error:
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from None
    if is_dl1:
        events = read_dl1(path)
        columns = {"obs_id": events.obs_id, "event_id": events.event_id, **events.shower}
        return events.image, columns, events.units
    store = SampleStore(path)
    mapping = AxialMapping.from_arrays(store.extra())
    images = mapping.to_pixels(store.read("image")[:, 0])
    columns = store.meta()
    units = {store.attrs.get("target_name", ""): store.attrs["units"].get("target", "")}
    store.close()
    return images, columns, units


def predict_regression(model: Regressor, inputs: list[Path]) -> Table:
    """One row per event: ids, truth when the input has it, prediction and its std."""
    target = model.metadata["target_name"]
    reco = "reco_" + target.removeprefix("true_")
    tables = []
    for path in inputs:
        images, columns, units = _camera_events(path)
        table = Table()
        for key in ("obs_id", "event_id", target):
            if key in columns:
                table[key] = columns[key]
                if units.get(key):
                    table[key].unit = units[key]
        if model.metadata.get("heteroscedastic"):
            mean, std = model.predict(images, return_std=True)
            table[reco], table[reco + "_std"] = mean, std
            table[reco + "_std"].unit = model.units or None
        else:
            table[reco] = model.predict(images)
        table[reco].unit = model.units or None
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
