"""Cherenkov camera images (DL1) -> image parameters, quality cuts -> camera-pixel train/val/test stores."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np

from sciimg.data.camera_channels import NORMALISATION, camera_channels
from sciimg.data.image_parameters import UNITS, Cleaning, image_parameters, quality_cut
from sciimg.data.splits import split_indices
from sciimg.data.transforms import ChannelNormalisation
from sciimg.errors import InputError
from sciimg.geometry.camera import geometry_to_arrays
from sciimg.geometry.mappers import build_mapper
from sciimg.io.dl1 import GAMMA, CameraEvents, concatenate, read_events
from sciimg.io.store import write_store
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
NORMALISATION_SAMPLE = 20_000  # train events the normalisation is fitted on (bounds memory)


def _training_events(events: CameraEvents, target_name: str, target_log10: bool) -> CameraEvents:
    """Gamma events with a valid target; clear errors for files that cannot train a model."""
    table = events.table
    if target_name not in table.colnames:
        raise InputError(
            f"{events.source}: has no simulation truth column {target_name!r} (columns {table.colnames}); "
            "such files can be given to `sciimg predict` but cannot train or evaluate a model"
        )
    if "true_shower_primary_id" in table.colnames:
        table = table[np.asarray(table["true_shower_primary_id"]) == GAMMA]
        if len(table) == 0:
            raise InputError(f"{events.source}: has no gamma events (true_shower_primary_id 0) to train on")
    target = np.asarray(table[target_name], float)
    if not np.all(np.isfinite(target)) or (target_log10 and np.any(target <= 0)):
        raise InputError(f"{events.source}: target {target_name!r} must be finite and positive")
    return CameraEvents(events.geometry, table, events.source)


def ingest_cherenkov(inputs: list[Path], out_dir: Path, spec: Mapping[str, Any]) -> dict[str, Path]:
    """Cherenkov images -> image parameters, quality cuts -> grids -> train/val/test stores."""
    data = spec["data"]
    telescope_type = data.get("files", {}).get("telescope_type")
    target_name = data["target"]
    events = concatenate([read_events(p, telescope_type) for p in inputs])
    events = _training_events(events, target_name, spec["model"].get("target_log10", True))
    table, geometry = events.table, events.geometry
    images = np.asarray(table["image"], np.float32)
    peak_times = np.asarray(table["peak_time"], np.float32)
    parameters, masks = image_parameters(geometry, images, peak_times, Cleaning(**data["cleaning"]))
    keep = quality_cut(parameters, data["quality_cuts"])
    log.info("quality cuts %s keep %d of %d gamma events", data["quality_cuts"], keep.sum(), len(keep))
    if keep.sum() < 3:
        raise InputError(f"{inputs[0]}: only {int(keep.sum())} events pass the quality cuts {data['quality_cuts']}")

    mapper = build_mapper(data["mapper"], geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m))
    valid = mapper.valid_mask()
    radius = np.hypot(geometry.pix_x.to_value(u.m), geometry.pix_y.to_value(u.m))
    pixels = camera_channels(images[keep], peak_times[keep], masks[keep], data["channels"], radius)  # (N, C, P)
    target = np.asarray(table[target_name], np.float32)[keep]
    splits = split_indices(len(pixels), data["split"], spec["seed"])
    kinds = [NORMALISATION[c] or data["normalisation"] for c in data["channels"]]
    sample = np.random.default_rng(spec["seed"]).permutation(splits["train"])[:NORMALISATION_SAMPLE]
    normalisation = ChannelNormalisation.fit(mapper.to_grid(pixels[np.sort(sample)]), kinds, valid)

    attrs = {
        "modality": "cherenkov",
        "task": spec["task"],
        "axes": "C,P",  # camera pixels; the mapper in /extra turns them into (C, Y, X) grids
        "channels": list(data["channels"]),
        "units": {"image": "p.e.", "target": str(table[target_name].unit or "")},
        "target_name": target_name,
        "normalisation": normalisation.to_list(),
        "cleaning": data["cleaning"],
        "quality_cuts": {**data["quality_cuts"], "events_before": len(keep), "events_after": int(keep.sum())},
        "parameter_units": UNITS,
        "provenance": provenance(spec, inputs, spec["seed"]),
    }
    extra = {**mapper.to_arrays(), "valid_mask": valid, **geometry_to_arrays(geometry)}
    columns = {name: np.asarray(table[name])[keep] for name in table.colnames if name not in ("image", "peak_time")}
    columns.update({name: values[keep] for name, values in parameters.items()})
    outputs = {}
    for name, index in splits.items():
        outputs[name] = out_dir / f"{name}.h5"
        write_store(
            outputs[name],
            {"image": pixels[index], "target": target[index]},
            meta={key: column[index] for key, column in columns.items()},
            extra=extra,
            attrs={**attrs, "split": name},
        )
    return outputs
