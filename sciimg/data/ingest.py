"""Ingest: read native files, validate, map to grids, split, fit normalisation, write stores."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.data.transforms import Normalisation
from sciimg.errors import InputError
from sciimg.geometry.hexgrid import AxialMapping
from sciimg.io.dl1 import DL1Events, read_dl1
from sciimg.io.store import write_store
from sciimg.provenance import provenance


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Expand paths and globs, in sorted order; a pattern that matches nothing is an error."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        if not matches:
            raise InputError(f"{pattern}: no input file matches this path")
        paths += [Path(m) for m in matches]
    return paths


def split_indices(n: int, fractions: Mapping[str, float], seed: int) -> dict[str, np.ndarray]:
    """Random disjoint train/val/test indices with the given fractions (sorted within a split)."""
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(fractions["train"] * n)
    n_val = round(fractions["val"] * n)
    bounds = {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }
    return {name: np.sort(order[a:b]) for name, (a, b) in bounds.items()}


def _concatenate(events: list[DL1Events], paths: list[Path]) -> DL1Events:
    first = events[0]
    for other, path in zip(events[1:], paths[1:], strict=True):
        same = (
            other.camera.n_pixels == first.camera.n_pixels
            and np.allclose(other.camera.pix_x, first.camera.pix_x)
            and np.allclose(other.camera.pix_y, first.camera.pix_y)
        )
        if not same:
            raise InputError(f"{path}: camera geometry differs from {paths[0]}; ingest one camera at a time")
    shower_keys = set(first.shower)
    return DL1Events(
        camera=first.camera,
        event_id=np.concatenate([e.event_id for e in events]),
        obs_id=np.concatenate([e.obs_id for e in events]),
        image=np.concatenate([e.image for e in events]),
        peak_time=np.concatenate([e.peak_time for e in events]),
        shower={k: np.concatenate([e.shower[k] for e in events]) for k in shower_keys},
        units=first.units,
    )


def ingest_cherenkov(inputs: list[Path], out_dir: Path, spec: Mapping[str, Any]) -> dict[str, Path]:
    """Cherenkov DL1 images -> square grids (axial mapping) -> train/val/test stores."""
    data = spec["data"]
    tel_id = data.get("files", {}).get("tel_id", 1)
    events = _concatenate([read_dl1(p, tel_id) for p in inputs], inputs)
    target_name = data["target"]
    if target_name not in events.shower:
        raise InputError(
            f"{inputs[0]}: target must be a simulated shower column {sorted(events.shower)}, "
            f"got {target_name!r} (files without simulation truth cannot be used for training)"
        )
    target = events.shower[target_name].astype(np.float32)
    if not np.all(np.isfinite(target)) or (spec["model"].get("target_log10", True) and np.any(target <= 0)):
        raise InputError(f"{inputs[0]}: target {target_name!r} must be finite and positive")

    mapping = AxialMapping.from_positions(events.camera.pix_x, events.camera.pix_y)
    valid = mapping.valid_mask()
    images = mapping.to_grid(events.image)[:, None]  # (N, 1, H, W)
    splits = split_indices(len(images), data["split"], spec["seed"])
    normalisation = Normalisation.fit(images[splits["train"]], data["normalisation"], valid)

    attrs = {
        "modality": "cherenkov",
        "axes": "C,Y,X",
        "channels": ["charge"],
        "units": {"image": "p.e.", "target": events.units.get(target_name, "")},
        "target_name": target_name,
        "normalisation": normalisation.to_dict(),
        "camera": {"name": events.camera.name, "focal_length_m": events.camera.focal_length},
        "provenance": provenance(spec, inputs, spec["seed"]),
    }
    extra = {
        **mapping.to_arrays(),
        "valid_mask": valid,
        "pix_x": events.camera.pix_x,
        "pix_y": events.camera.pix_y,
    }
    outputs = {}
    for name, index in splits.items():
        meta = {"event_id": events.event_id[index], "obs_id": events.obs_id[index]}
        meta.update({k: v[index] for k, v in events.shower.items()})
        meta["intensity"] = events.image[index].sum(axis=1)
        outputs[name] = out_dir / f"{name}.h5"
        write_store(
            outputs[name],
            {"image": images[index], "target": target[index]},
            meta=meta,
            extra=extra,
            attrs={**attrs, "split": name},
        )
    return outputs


INGESTERS = {"cherenkov": ingest_cherenkov}


def ingest(inputs: list[str], out_dir: str | os.PathLike, spec: Mapping[str, Any]) -> dict[str, Path]:
    """Ingest ``inputs`` for the experiment ``spec`` into ``out_dir/{train,val,test}.h5``."""
    modality = spec["modality"]
    if modality not in INGESTERS:
        raise ValueError(f"modality must be one of {sorted(INGESTERS)}, got {modality!r}")
    return INGESTERS[modality](expand_inputs(inputs), Path(out_dir), spec)
