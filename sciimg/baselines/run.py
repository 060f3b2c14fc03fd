"""Run a named baseline: fit on the train store, predict the test store, write a table."""

from __future__ import annotations

import os
from pathlib import Path

from astropy.table import Table

from sciimg.baselines import baseline_class
from sciimg.io.atomic import atomic_path
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance


def run_baseline(name: str, train: str | os.PathLike, test: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Fit baseline ``name`` on ``train`` and write its test-split predictions to ``output`` (ECSV)."""
    method = baseline_class(name)()
    train_store, test_store = SampleStore(train), SampleStore(test)
    method.fit(train_store.read("image")[:, 0], train_store.read("target"))
    reco = method.predict(test_store.read("image")[:, 0])
    meta = test_store.meta()
    target = test_store.attrs["target_name"]
    unit = test_store.attrs["units"].get("target") or None
    table = Table({"obs_id": meta["obs_id"], "event_id": meta["event_id"], target: meta[target]})
    table[target].unit = unit
    table["reco_" + target.removeprefix("true_")] = reco
    table["reco_" + target.removeprefix("true_")].unit = unit
    table.meta.update({"baseline": name, "fitted_on": Path(train).name})
    table.meta["provenance"] = provenance(inputs=[train, test])
    with atomic_path(output) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(output)
