"""Predict with a trained model on store splits or native files; write outputs atomically."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, unique, vstack

from sciimg.errors import InputError
from sciimg.inference.export import WEIGHTS
from sciimg.inference.load import Regressor, TrainedModel, load_model
from sciimg.io.atomic import atomic_path, checked_target, refuse_overwriting_inputs
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of, require_kind
from sciimg.provenance import provenance


def predict_regression(model: Regressor, inputs: list[Path]) -> Table:
    """One row per event: ids, truth when the input has it, prediction and its std.

    On a DL1 file an event outside the model's quality cuts gets ``quality_cuts_passed``
    false and no prediction (NaN, so ctapipe DL2's ``is_valid`` is false).
    """
    target = model.metadata["target_name"]
    reco = "reco_" + target.removeprefix("true_")
    unit = model.units or None
    tables = []
    for path in inputs:
        columns, mean, std = model.file_predictions(path)
        table = Table()
        for key in ("obs_id", "event_id", "tel_id", target, "quality_cuts_passed"):
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


def dl2_tables(table: Table, prefix: str, target: str) -> dict[str, Table]:
    """ctapipe DL2 telescope tables, ``/dl2/event/telescope/<quantity>/<prefix>/tel_XXX``.

    Columns follow ctapipe's naming: ``<prefix>_tel_energy``, ``<prefix>_tel_energy_uncert``
    and ``<prefix>_tel_is_valid`` (the prediction is finite), one row per input event.
    """
    quantity = target.removeprefix("true_")
    reco = f"reco_{quantity}"
    tel_id = table["tel_id"] if "tel_id" in table.colnames else np.ones(len(table), np.int16)
    tables = {}
    for tel in np.unique(tel_id):
        rows = table[np.asarray(tel_id) == tel]
        out = Table({"obs_id": rows["obs_id"], "event_id": rows["event_id"], "tel_id": np.full(len(rows), tel)})
        out[f"{prefix}_tel_{quantity}"] = rows[reco]
        if f"{reco}_std" in rows.colnames:
            out[f"{prefix}_tel_{quantity}_uncert"] = rows[f"{reco}_std"]
        out[f"{prefix}_tel_is_valid"] = np.isfinite(np.asarray(rows[reco]))
        tables[f"/dl2/event/telescope/{quantity}/{prefix}/tel_{int(tel):03d}"] = out
    return tables


def predict(
    model_dir: str | os.PathLike,
    inputs: list[str],
    output: str | os.PathLike,
    runtime: str = "auto",
    **options: Any,
) -> Path:
    """Run a trained model on ``inputs`` and write ``output`` atomically, as the model's kind writes it.

    The output is always a new file: inputs are never modified and rerunning replaces the
    output instead of appending to it. ``runtime`` says where sliding-window passes run
    (:mod:`sciimg.inference.runtime`). ``options`` go to the kind's predict function (sky
    images: ``gain`` and ``read_noise``); one it does not take is an error.
    """
    model: TrainedModel = load_model(model_dir, runtime=runtime)
    paths = [Path(p) for p in inputs]
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: input file does not exist")
    refuse_overwriting_inputs(output, [*paths, *Path(model_dir).glob("*")])
    checked_target(output, create=False)  # a bad output fails before any work
    kind = kind_of(model.metadata)
    for path in paths:
        if SampleStore.is_store(path):
            require_kind(path, SampleStore(path).attrs, kind, f"the model {model_dir}")
    run = kind.load("predict")
    taken = list(inspect.signature(run).parameters)[3:]
    unknown = sorted(set(options) - set(taken))
    if unknown:
        raise InputError(f"{model_dir}: {kind.modality} {kind.task} models take the options {taken}, not {unknown}")
    return run(model, paths, output, **options)


def predict_table(model: Regressor, paths: list[Path], output: str | os.PathLike) -> Path:
    """A regressor's predictions, one row per input event: an ECSV table, or for an ``.h5``
    output ctapipe DL2 tables (see :func:`dl2_tables`).
    """
    table = predict_regression(model, paths)
    ids = [c for c in ("input_file", "obs_id", "event_id", "tel_id") if c in table.colnames]
    if len(unique(table, keys=ids)) != len(table):
        raise InputError(f"{[str(p) for p in paths]}: the same event appears twice; give each input file once")
    table.meta["provenance"] = provenance(inputs=[*paths, model.path / WEIGHTS])
    output = Path(output)
    with atomic_path(output) as tmp:
        if output.suffix in (".h5", ".hdf5"):
            from ctapipe.io import write_table  # ctapipe: seconds to import, only for DL2 output

            prefix = f"sciimg_{model.metadata.get('backbone') or 'cnn'}"
            for key, dl2 in dl2_tables(table, prefix, model.metadata["target_name"]).items():
                write_table(dl2, tmp, key, overwrite=True)
        else:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
    return output
