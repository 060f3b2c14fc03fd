"""A trained model folder: the predictor's weights and options, and everything needed to predict (the model card).

Inference rebuilds the predictor from its kind (:attr:`sciimg.kinds.Kind.predictor`) and
the card's ``predictor_options``, and loads the weights as a plain state dict, so a model
folder needs neither Lightning nor the training config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciimg.io.atomic import atomic_directory
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.predictors import Predictor, predictor_options
from sciimg.version import __version__

WEIGHTS = "weights.pt"
CARD = "card.json"
PREPROCESS = "preprocess.npz"


def save_model(
    output: str | os.PathLike,
    predictor: Predictor,
    options: Mapping[str, Any],
    card: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write a model folder atomically: the weights, the card (with the predictor's ``options``) and the arrays."""
    with atomic_directory(output) as tmp:
        torch.save({k: v.detach().cpu() for k, v in predictor.state_dict().items()}, tmp / WEIGHTS)
        (tmp / CARD).write_text(json.dumps({**card, "predictor_options": dict(options)}, indent=2))
        np.savez(tmp / PREPROCESS, **(arrays or {}))
    return Path(output)


def export_model(
    task: torch.nn.Module,
    train_store: str | os.PathLike,
    spec: Mapping[str, Any],
    experiment: str,
    output: str | os.PathLike,
    extra_card: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``output/`` for a trained task (:class:`~sciimg.tasks.base.BaseTask`), atomically.

    The card records task, modality, target name/units/transform, normalisation, input
    layout and provenance, so a model directory predicts without the training config.
    """
    store = SampleStore(train_store)
    try:
        attrs, arrays = store.attrs, store.extra()
    finally:
        store.close()
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
    predictor = task.predictor
    return save_model(output, predictor, predictor_options(type(predictor), task.hparams), card, arrays)
