"""A trained field model on a user's NetCDF file: gaps punched in a real field, filled, scored (accuracy, not speed).

A third of each time step's cells of a real field (default: the HadCM3 North America
sample, absolute temperatures on a 37 x 49 grid that no model trained on) are removed in
random boxes (:func:`sciimg.data.masks.box_mask`, seeded). The model fills the copy as a
user's file (``sciimg.inference.predict.predict``); scikit-image's biharmonic inpainting fills
the same copy twice: on the absolute values, and on the anomalies about the same monthly
means per cell the model uses (the same inputs). Each is scored by RMSE (K) on the removed
cells, against the values removed.

    python benchmarks/climate_user_file.py --model results/climate_fields/model
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from sciimg import samples
from sciimg.baselines.climate_infill import Biharmonic
from sciimg.data.ingest_climate import block_steps, calendar_of, train_climatology
from sciimg.data.masks import box_mask
from sciimg.inference.predict import predict
from sciimg.io.netcdf import open_field


def punch_boxes(source: Path, output: Path, coverage: float, seed: int) -> np.ndarray:
    """Write ``source`` with each time step's cells removed in boxes down to ``coverage``; the removed cells."""
    field, info = open_field(source, kelvin=False)
    ds = xr.open_dataset(source)
    rng = np.random.default_rng(seed)
    kept = np.stack([box_mask(field.lat.values, field.lon.values, coverage, rng) for _ in range(field.shape[0])])
    name = info.variable
    ds[name] = ds[name].where(xr.DataArray(kept, dims=ds[name].dims))
    ds.to_netcdf(output)
    return ~kept & np.isfinite(field.values)


def biharmonic(values: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Biharmonic fill of every time step's NaN cells."""
    method = Biharmonic()
    observed = np.isfinite(values)
    return np.stack([method.fill(v, o, lat, lon) for v, o in zip(values, observed, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--input", type=Path, default=samples.path("hadcm3_north_america"))
    parser.add_argument("--coverage", type=float, default=2 / 3, help="fraction of cells kept per time step")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth_field, _ = open_field(args.input, kelvin=False)
    truth = truth_field.values
    with tempfile.TemporaryDirectory() as scratch:
        holed, filled_path = Path(scratch) / "holed.nc", Path(scratch) / "filled.nc"
        removed = punch_boxes(args.input, holed, args.coverage, args.seed)
        start = time.perf_counter()
        predict(args.model, [str(holed)], filled_path)
        model_seconds = time.perf_counter() - start
        filled = open_field(filled_path, kelvin=False)[0].values
        field, _ = open_field(holed, kelvin=False)
        values, lat, lon = field.values, field.lat.values, field.lon.values
        _, months = calendar_of(field)
        climatology = train_climatology(field, np.arange(len(values)), months, block_steps(*values.shape[1:]))[0]
        seasonal = climatology[months - 1]
        start = time.perf_counter()
        absolute = biharmonic(values, lat, lon)
        biharmonic_seconds = time.perf_counter() - start
        anomalies = biharmonic(values - seasonal, lat, lon) + seasonal

    def rmse(estimate: np.ndarray) -> float:
        return round(float(np.sqrt(np.mean((estimate[removed] - truth[removed]) ** 2))), 4)

    print(
        json.dumps(
            {
                "input": str(args.input),
                "model": str(args.model),
                "grid": list(values.shape[1:]),
                "time_steps": len(values),
                "removed_cells": int(removed.sum()),
                "removed_fraction": round(float(removed.mean()), 3),
                "all_removed_cells_filled": bool(np.isfinite(filled[removed]).all()),
                "observed_cells_bit_identical": bool(np.array_equal(filled[~removed], truth[~removed], equal_nan=True)),
                "rmse_k": {
                    "model": rmse(filled),
                    "biharmonic (absolute values)": rmse(absolute),
                    "biharmonic (anomalies about the file's monthly means)": rmse(anomalies),
                    "monthly means alone": rmse(seasonal),
                },
                "seconds": {"model": round(model_seconds, 2), "biharmonic": round(biharmonic_seconds, 2)},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
