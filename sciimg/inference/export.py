"""A trained model directory: checkpoint + everything needed to predict (the model card)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import sciimg
from sciimg.io.atomic import atomic_directory
from sciimg.io.store import SampleStore

CHECKPOINT = "model.ckpt"
CARD = "card.json"
PREPROCESS = "preprocess.npz"


def _field_card(spec: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Temperature-field models: the source field's description and the input window."""
    if attrs["modality"] != "climate":
        return {}
    data = spec["data"]
    field = {"time_window": data["time_window"], "time_axis": data["time_axis"], "source": attrs["field_info"]}
    return {"field": {**field, "masks": attrs["masks"], "noise_std_k": attrs["noise_std_k"]}}


def _sky_card(spec: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Sky models: how they were trained (denoisers, detectors) or how far masks grow (cleaners); their pixel scale."""
    if attrs["modality"] != "sky":
        return {}
    if spec["task"] == "cleaning":
        return {"sky": {"pixel_scale": attrs["pixel_scale"], "mask_dilation": spec["data"]["mask_dilation"]}}
    if spec["task"] == "detection":
        keys = ("min_snr", "heat_sigma", "target_purity")
        return {"sky": {"pixel_scale": "standardised, asinh-stretched", **{k: spec["data"][k] for k in keys}}}
    return {"sky": {"training_target": spec["data"]["training_target"], "pixel_scale": attrs["pixel_scale"]}}


def _volume_card(spec: Mapping[str, Any], attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Detector-volume models: the grid events are put on, the classes and the inference window."""
    if attrs["modality"] != "detector3d":
        return {}
    return {"volume": {"grid": attrs["grid"], "classes": attrs["classes"], "patch_size": spec["data"]["patch_size"]}}


def export_model(
    checkpoint: str | os.PathLike,
    train_store: str | os.PathLike,
    spec: Mapping[str, Any],
    experiment: str,
    output: str | os.PathLike,
    extra_card: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``output/`` with the checkpoint, the card and the input mapping, atomically.

    The card records task, modality, target name/units/transform, normalisation, input
    layout and provenance, so a model directory predicts without the training config.
    """
    output = Path(output)
    store = SampleStore(train_store)
    attrs, arrays = store.attrs, store.extra()
    if attrs["modality"] in ("sky", "detector3d"):
        arrays = {}  # per-tile or fixed normalisation: nothing of the training samples is needed to predict
    card = {
        "experiment": experiment,
        "task": spec["task"],
        "modality": attrs["modality"],
        "sciimg_version": sciimg.__version__,
        "axes": attrs["axes"],
        "channels": attrs["channels"],
        "units": attrs["units"],
        "target_name": attrs.get("target_name"),
        "target_log10": spec["model"].get("target_log10", True),
        "heteroscedastic": spec["model"].get("heteroscedastic", False),
        "backbone": spec["model"].get("backbone"),
        "normalisation": attrs["normalisation"],
        "camera": str(arrays["camera_name"]) if "camera_name" in arrays else None,
        "mapper": str(arrays["mapper_name"]) if "mapper_name" in arrays else None,
        "cleaning": attrs.get("cleaning"),
        "quality_cuts": attrs.get("quality_cuts"),
        "provenance": attrs["provenance"],
        **_field_card(spec, attrs),
        **_sky_card(spec, attrs),
        **_volume_card(spec, attrs),
        **(extra_card or {}),
    }
    try:
        with atomic_directory(output) as tmp:
            shutil.copyfile(checkpoint, tmp / CHECKPOINT)
            (tmp / CARD).write_text(json.dumps(card, indent=2))
            np.savez(tmp / PREPROCESS, **arrays)
    finally:
        store.close()
    return output
