"""Ingest temperature fields: NetCDF -> anomalies, observation masks, year splits -> sample stores.

Memory stays bounded whatever the input size: the field is read lazily (xarray + dask)
in blocks of time steps, in two passes: one for the train climatology and the anomaly
scale, one that writes the stores.

Each store sample is one time step: ``target`` is the true anomaly (K, NaN where the
truth is unknown), ``mask`` the observed cells, ``image`` what a method gets to see
(inpainting: the anomaly at observed cells, NaN elsewhere; denoising: the anomaly plus
noise). Whole years go to one split, so the test years are never seen in training (a
series shorter than 3 years, e.g. a month of hourly fields, is split by whole days).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr

from sciimg.data.masks import coverage_from_file, draw_masks
from sciimg.errors import ConfigError, InputError
from sciimg.io.netcdf import encode_times, open_fields, read_land_fraction
from sciimg.io.store import StoreWriter
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
BLOCK_BYTES = 8 << 20  # bytes of field read per block (peak memory is a few blocks)


def block_steps(n_lat: int, n_lon: int) -> int:
    """Time steps per block so that one block holds about :data:`BLOCK_BYTES`."""
    return max(1, BLOCK_BYTES // (4 * n_lat * n_lon))


def split_units(field: xr.DataArray, years: np.ndarray) -> tuple[np.ndarray, str]:
    """Label of the block each time step belongs to: its year, or its day if there are < 3 years."""
    if len(np.unique(years)) >= 3 or "time" not in field.coords:
        return years, "year"
    return years * 1000 + np.asarray(field.time.dt.dayofyear), "day"


def unit_splits(units: np.ndarray, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Time indices per split; each unit (year or day) goes wholly to one split, drawn with ``seed``."""
    unique = np.unique(units)
    if len(unique) < 3:
        raise InputError(
            f"temperature fields need at least 3 different years (or days) to split into train/val/test, got "
            f"{len(unique)}; a file this short can be filled by a trained model (sciimg predict) or give masks"
        )
    order = np.random.default_rng(seed).permutation(unique)
    n_val = max(1, round(fractions["val"] * len(unique)))
    n_test = max(1, round(fractions["test"] * len(unique)))
    chosen = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": order[n_val + n_test :]}
    return {name: np.flatnonzero(np.isin(units, picked)) for name, picked in chosen.items()}


def calendar_of(field: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Year and calendar month (1..12) of each time step (year = step index without a time axis)."""
    if "time" not in field.coords:
        return np.arange(field.sizes["time"]), np.ones(field.sizes["time"], int)
    return np.asarray(field.time.dt.year), np.asarray(field.time.dt.month)


def train_climatology(
    field: xr.DataArray, train: np.ndarray, months: np.ndarray, step: int
) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-month mean of the train years, the std of train anomalies about it, and the domain.

    The domain is every cell that is finite at least once in the whole series. A month
    absent from the train years (e.g. annual data) gets the mean of all train months.
    """
    n_lat, n_lon = field.sizes["lat"], field.sizes["lon"]
    sums, squares, counts = (np.zeros((12, n_lat, n_lon)) for _ in range(3))
    domain = np.zeros((n_lat, n_lon), bool)
    is_train = np.zeros(field.sizes["time"], bool)
    is_train[train] = True
    for start in range(0, field.sizes["time"], step):
        block = field.isel(time=slice(start, start + step)).values.astype(np.float64)
        finite = np.isfinite(block)
        domain |= finite.any(axis=0)
        for offset in np.flatnonzero(is_train[start : start + step]):
            m = months[start + offset] - 1
            values = np.where(finite[offset], block[offset], 0.0)
            sums[m] += values
            squares[m] += values**2
            counts[m] += finite[offset]
    if not domain.any():
        raise InputError(f"{field.attrs.get('source', 'input')}: the temperature variable is NaN everywhere")
    if counts.sum() == 0:
        raise InputError("the train years hold no finite temperature value")
    with np.errstate(invalid="ignore", divide="ignore"):
        monthly = sums / counts
        overall = sums.sum(axis=0) / counts.sum(axis=0)
    climatology = np.where(counts > 0, monthly, overall[None])
    spread = squares.sum() - (np.where(counts > 0, sums**2 / np.maximum(counts, 1), 0.0)).sum()
    scale = float(np.sqrt(max(spread, 0.0) / max(counts.sum() - 1, 1)))
    return climatology.astype(np.float32), max(scale, 1e-3), domain


CORRUPTIONS = ("gaps", "noise")  # what the network input lacks: observations, or quiet


def ingest_climate(
    inputs: list[Path], out_dir: Path, spec: Mapping[str, Any], corruption: str = "gaps"
) -> dict[str, Path]:
    """NetCDF temperature fields -> ``train/val/test.h5`` stores for inpainting or denoising.

    Blocks are read one after another by dask's synchronous scheduler: reading is I/O
    bound, and worker threads would each keep their own allocator arena.

    Args:
        corruption: what the network's input lacks: ``gaps`` (cells unobserved by the
            ``data.masks`` coverage, to fill) or ``noise`` (every cell, with Gaussian noise of
            ``data.noise_std_k``, to remove). Stored as the ``corruption`` attribute.
    """
    if corruption not in CORRUPTIONS:
        raise ConfigError(f"corruption must be one of {list(CORRUPTIONS)}, got {corruption!r}")
    with dask.config.set(scheduler="synchronous"):
        return _ingest_climate(inputs, out_dir, spec, corruption)


def _ingest_climate(inputs: list[Path], out_dir: Path, spec: Mapping[str, Any], corruption: str) -> dict[str, Path]:
    data, seed = spec["data"], spec["seed"]
    field, info = open_fields(inputs, data.get("files", {}).get("variable"))
    field.attrs["source"] = ", ".join(str(p) for p in inputs)
    n_time, n_lat, n_lon = (field.sizes[d] for d in ("time", "lat", "lon"))
    lat, lon = field.lat.values.astype(np.float64), field.lon.values.astype(np.float64)
    years, months = calendar_of(field)
    units, unit_kind = split_units(field, years)
    splits = unit_splits(units, data["split"], seed)
    step = block_steps(n_lat, n_lon)
    climatology, scale, domain = train_climatology(field, splits["train"], months, step)
    log.info("%d time steps on a %d x %d grid; train anomaly std %.3f K", n_time, n_lat, n_lon, scale)

    mask_options = data["masks"]
    patterns = coverage_from_file(mask_options["file"], lat, lon) if mask_options["kind"] == "file" else None
    land = read_land_fraction(inputs[0], lat, lon)
    time_values, time_units, calendar = encode_times(field.time if "time" in field.coords else None, n_time)
    attrs = {
        "modality": "climate",
        "task": spec["task"],
        "corruption": corruption,
        "axes": "C,Y,X",
        "channels": ["anomaly"],
        "units": {"image": "K", "target": "K"},
        "normalisation": {"scale": scale},
        "field_info": info.to_json(),
        "time_units": time_units,
        "calendar": calendar,
        "masks": dict(mask_options),
        "noise_std_k": data["noise_std_k"],
        "provenance": provenance(spec, inputs, seed),
    }
    simulation = info.global_attrs.get("sciimg_simulation")
    if simulation is not None and len(inputs) == 1:  # a simulated file: the floor baseline rebuilds its simulator
        attrs["simulation"] = json.loads(simulation)
    extra = {"lat": lat, "lon": lon, "climatology": climatology, "domain": domain}
    if land is not None:
        extra["land"] = land
    layout = {"image": ((1, n_lat, n_lon), np.float32), "target": ((1, n_lat, n_lon), np.float32)}
    layout["mask"] = ((1, n_lat, n_lon), np.uint8)
    where = np.empty(n_time, int)  # split of each time step ...
    row = np.empty(n_time, int)  # ... and its row there
    names = list(splits)
    for k, name in enumerate(names):
        where[splits[name]], row[splits[name]] = k, np.arange(len(splits[name]))
    outputs = {name: out_dir / f"{name}.h5" for name in names}
    writers = [
        StoreWriter(
            outputs[name],
            len(index),
            layout,
            meta={"time": time_values[index], "year": years[index], "month": months[index], "step": index},
            extra=extra,
            attrs={**attrs, "split": name},
        )
        for name, index in splits.items()
    ]
    with ExitStack() as stack:
        stores = [stack.enter_context(w) for w in writers]
        for start in range(0, n_time, step):
            block = field.isel(time=slice(start, start + step)).values
            index = np.arange(start, start + len(block))
            anomaly = (block - climatology[months[index] - 1]).astype(np.float32)
            anomaly[:, ~domain] = np.nan
            observed = np.isfinite(anomaly)
            if corruption == "noise":
                noise = np.stack([np.random.default_rng([seed, 2, i]).normal(size=(n_lat, n_lon)) for i in index])
                image = anomaly + np.float32(data["noise_std_k"]) * noise.astype(np.float32)
            else:
                observed &= draw_masks(mask_options, lat, lon, index, n_time, seed, land, patterns)
                image = np.where(observed, anomaly, np.float32(np.nan))
            for k in np.unique(where[index]):
                sel = where[index] == k
                rows = row[index[sel]]
                block_out = {"image": image[sel, None], "target": anomaly[sel, None], "mask": observed[sel, None]}
                for key, values in block_out.items():  # rows of one split within a block are consecutive
                    stores[k].write(int(rows[0]), {key: values.astype(layout[key][1])})
    for name, index in splits.items():
        picked = sorted(set(units[index].tolist()))
        log.info("%s: %d time steps from %d %ss %s", name, len(index), len(picked), unit_kind, picked[:12])
    return outputs
