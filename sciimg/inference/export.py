"""A trained model folder: the predictor's weights and options, and everything needed to predict (the model card).

Inference rebuilds the predictor from its kind (:attr:`sciimg.kinds.Kind.predictor`) and
the card's ``predictor_options``, and loads the weights as a plain state dict, so a model
folder needs neither Lightning nor the training config. The card records the folder's
format (:data:`MODEL_FORMAT`) and the weights' SHA-256; :func:`read_card` checks both, so a
damaged or swapped file is one clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciimg.errors import ConfigError, InputError
from sciimg.io.atomic import atomic_directory
from sciimg.io.store import SampleStore
from sciimg.kinds import kind_of
from sciimg.predictors import Predictor, predictor_options
from sciimg.version import __version__

WEIGHTS = "weights.pt"
CARD = "card.json"
PREPROCESS = "preprocess.npz"
MODEL_FORMAT = 1  # of the folder: these three files, the card's predictor_options and weights_sha256


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(folder: str | os.PathLike, check_weights: bool = True) -> dict[str, Any]:
    """The card of a model folder, after checking the folder: its files, the card's JSON, format and
    kind, and (``check_weights``) the weights' SHA-256.

    Raises:
        InputError: one sentence naming the file at fault.
    """
    if not isinstance(folder, str | os.PathLike):
        raise InputError(f"a model directory is a path (str or pathlib.Path), got {type(folder).__name__}")
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"{folder}: model directory does not exist")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a model directory (a file); give the folder fit wrote")
    for name in (CARD, WEIGHTS, PREPROCESS):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: not a sciimg model directory ({name} is missing)")
    try:
        card = json.loads((folder / CARD).read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{folder / CARD}: not a JSON model card ({error})") from None
    if not isinstance(card, dict):
        raise InputError(f"{folder / CARD}: a model card is a JSON object, got {type(card).__name__}")
    if card.get("model_format") != MODEL_FORMAT:
        raise InputError(
            f"{folder / CARD}: model folder format {card.get('model_format')!r}, this sciimg reads format "
            f"{MODEL_FORMAT}; train the model again"
        )
    try:
        kind_of(card)
    except ConfigError as error:
        raise InputError(f"{folder / CARD}: {error}") from None
    if check_weights and file_sha256(folder / WEIGHTS) != card.get("weights_sha256"):
        raise InputError(f"{folder / WEIGHTS}: SHA-256 differs from the card's: the weights are damaged or another's")
    graph = card.get("window_graph")
    if graph is not None:
        if not isinstance(graph, dict) or not isinstance(graph.get("file"), str) or "/" in graph["file"]:
            raise InputError(
                f"{folder / CARD}: window_graph must name a file of the folder and its sha256, got {graph!r}"
            )
        if not (folder / graph["file"]).is_file():
            raise InputError(f"{folder}: the card's window graph {graph['file']} is missing")
        if check_weights and file_sha256(folder / graph["file"]) != graph.get("sha256"):
            raise InputError(
                f"{folder / graph['file']}: SHA-256 differs from the card's: the graph is damaged or another's"
            )
    return card


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
        folder = {"model_format": MODEL_FORMAT, "weights_sha256": file_sha256(tmp / WEIGHTS)}
        (tmp / CARD).write_text(json.dumps({**card, "predictor_options": dict(options), **folder}, indent=2))
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


def export_trained(
    task: torch.nn.Module,
    store_dir: str | os.PathLike,
    spec: Mapping[str, Any],
    experiment: str,
    output: str | os.PathLike,
    extra_card: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``output/`` for a task trained on ``store_dir/train.h5``, with the operating points its kind
    calibrates on ``store_dir/val.h5`` (and ``extra_card``) in the card."""
    kind = kind_of(spec)
    store_dir = Path(store_dir)
    card = kind.load("calibrate")(task.predictor, store_dir / "val.h5", spec) if kind.calibrate else {}
    return export_model(task, store_dir / "train.h5", spec, experiment, output, {**card, **(extra_card or {})})
