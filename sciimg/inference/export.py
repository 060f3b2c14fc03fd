"""A trained model directory: checkpoint + everything needed to predict (the model card)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sciimg.io.atomic import atomic_directory
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.version import __version__

CHECKPOINT = "model.ckpt"
CARD = "card.json"
PREPROCESS = "preprocess.npz"


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
    kind = kind_of(spec)
    if not kind.keeps_train_arrays:
        arrays = {}  # per-tile or fixed normalisation: nothing of the training samples is needed to predict
    card = {
        "experiment": experiment,
        "task": spec["task"],
        "modality": attrs["modality"],
        "sciimg_version": __version__,
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
        **kind.card(spec, attrs),
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
