"""Run a named baseline: fit on the train store, predict the test store, write a table."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

from astropy.table import Table

from sciimg.baselines import baseline_class
from sciimg.errors import ConfigError
from sciimg.io.atomic import atomic_path, refuse_overwriting_inputs
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of, require_kind
from sciimg.provenance import provenance


def run_table_baseline(name: str, train: SampleStore, test: SampleStore, output: str | os.PathLike) -> Path:
    """A regressor of event parameters, fitted on the train store; an ECSV table of the test events."""
    target = test.attrs["target_name"]
    method = baseline_class(name)()
    train_meta = train.meta()
    method.fit(train_meta, train.read("target") if "target" in train.keys else train_meta[target])
    meta = test.meta()
    reco = method.predict(meta)
    unit = test.attrs["units"].get("target") or None
    ids = [key for key in ("obs_id", "event_id", "tel_id") if key in meta]
    table = Table({**{key: meta[key] for key in ids}, target: meta[target]})
    table[target].unit = unit
    table["reco_" + target.removeprefix("true_")] = reco
    table["reco_" + target.removeprefix("true_")].unit = unit
    table.meta.update({"baseline": name, "fitted_on": train.path.name})
    table.meta["provenance"] = provenance(inputs=[train.path, test.path])
    with atomic_path(output) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(output)


def run_baseline(
    name: str,
    train: str | os.PathLike,
    test: str | os.PathLike,
    output: str | os.PathLike,
    val: str | os.PathLike | None = None,
) -> Path:
    """Fit baseline ``name`` on ``train`` (settings chosen on ``val``, where the method has any)
    and write its test-split predictions to ``output``.

    The output is what the experiment's kind writes (see its ``baseline_runner``): ECSV tables
    for regressors and keypoints, NetCDF for temperature fields, FITS for sky images, sparse
    HDF5 for detector voxels.

    Raises:
        ConfigError: ``name`` is not a baseline of the test store's kind.
    """
    refuse_overwriting_inputs(output, [train, test, *([val] if val is not None else [])])
    train_store, test_store = SampleStore(train), SampleStore(test)
    kind = kind_of(test_store.attrs)
    require_kind(train, train_store.attrs, kind, f"the test store {test}")
    if name not in kind.baselines:
        raise ConfigError(
            f"baseline must be one of {list(kind.baselines)} for the {kind.modality} {kind.task} store {test}, "
            f"got {name!r}"
        )
    runner = kind.load("baseline_runner")
    if val is None:
        return runner(name, train_store, test_store, output)
    val_store = SampleStore(val)
    require_kind(val, val_store.attrs, kind, f"the test store {test}")
    if "val" not in inspect.signature(runner).parameters:
        return runner(name, train_store, test_store, output)  # this kind's baselines choose nothing
    return runner(name, train_store, test_store, output, val=val_store)
