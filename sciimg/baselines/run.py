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
    method.fit(train_store.meta(), train_store.read("target"))
    meta = test_store.meta()
    reco = method.predict(meta)
    target = test_store.attrs["target_name"]
    unit = test_store.attrs["units"].get("target") or None
    ids = [key for key in ("obs_id", "event_id", "tel_id") if key in meta]
    table = Table({**{key: meta[key] for key in ids}, target: meta[target]})
    table[target].unit = unit
    table["reco_" + target.removeprefix("true_")] = reco
    table["reco_" + target.removeprefix("true_")].unit = unit
    table.meta.update({"baseline": name, "fitted_on": Path(train).name})
    table.meta["provenance"] = provenance(inputs=[train, test])
    with atomic_path(output) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return Path(output)
