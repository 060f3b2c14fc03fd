"""Load a trained model directory for use in analysis scripts: numpy in, physical units out."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sciimg.data.transforms import Normalisation
from sciimg.errors import InputError
from sciimg.geometry.hexgrid import AxialMapping
from sciimg.inference.export import CARD, CHECKPOINT, PREPROCESS
from sciimg.tasks import BaseTask, task_class


class TrainedModel:
    """A trained task with the exact preprocessing used in training.

    Attributes:
        metadata: the model card (task, modality, target, units, normalisation, provenance).
        task: the LightningModule, in eval mode on ``device``.
    """

    def __init__(self, path: str | os.PathLike, device: str = "cpu") -> None:
        path = Path(path)
        for name in (CARD, CHECKPOINT, PREPROCESS):
            if not (path / name).is_file():
                raise InputError(f"{path}: not a sciimg model directory ({name} is missing)")
        self.path = path
        self.metadata: dict[str, Any] = json.loads((path / CARD).read_text())
        self.device = torch.device(device)
        cls = task_class(self.metadata["task"])
        self.task: BaseTask = cls.load_from_checkpoint(path / CHECKPOINT, map_location=self.device)
        self.task.eval()
        self.normalisation = Normalisation(**self.metadata["normalisation"])
        with np.load(path / PREPROCESS) as arrays:
            self.preprocess_arrays = {k: arrays[k] for k in arrays.files}
        self.mapping = AxialMapping.from_arrays(self.preprocess_arrays) if "rows" in self.preprocess_arrays else None
        valid = self.preprocess_arrays.get("valid_mask")
        self.valid = None if valid is None else valid.astype(bool)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Raw inputs (camera pixels for Cherenkov models) -> normalised network input."""
        images = np.asarray(images, dtype=np.float32)
        if self.mapping is not None:
            if images.ndim == 1:
                images = images[None]
            if images.ndim != 2 or images.shape[1] != self.mapping.n_pixels:
                raise InputError(
                    f"images must have shape (n_events, {self.mapping.n_pixels}) camera pixels, got {images.shape}"
                )
            images = self.mapping.to_grid(images)[:, None]
        bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
        if bad.any():
            raise InputError(f"images must be finite, got NaN/inf in rows {np.flatnonzero(bad)[:10].tolist()}")
        return self.normalisation(images, self.valid)


class Regressor(TrainedModel):
    """A trained regressor: ``predict(images)`` returns the target in physical units."""

    @property
    def units(self) -> str:
        """Units of the predictions."""
        return self.metadata["units"].get("target", "")

    def predict(
        self, images: np.ndarray, return_std: bool = False, batch_size: int = 256
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predict for any number of images, ``batch_size`` at a time (bounded memory).

        Args:
            images: camera-pixel arrays ``(n_events, n_pixels)`` (or one ``(n_pixels,)``).
            return_std: also return the per-event standard deviation (heteroscedastic
                models only).

        Returns:
            predictions in :attr:`units`, and their standard deviations if asked.
        """
        if return_std and not self.metadata.get("heteroscedastic"):
            raise ValueError(f"{self.path}: return_std needs a model trained with heteroscedastic: true")
        images = np.asarray(images, dtype=np.float32)
        n = 1 if images.ndim == 1 else len(images)
        means, stds = [], []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                chunk = images[start : start + batch_size] if images.ndim > 1 else images
                x = torch.from_numpy(self.prepare(chunk)).to(self.device)
                out = self.task.predict_step({"image": x})
                means.append(out["prediction"].double().cpu().numpy())
                if "std" in out:
                    stds.append(out["std"].double().cpu().numpy())
        mean = np.concatenate(means) if means else np.empty(0)
        if return_std:
            return mean, np.concatenate(stds) if stds else np.empty(0)
        return mean


def load_model(path: str | os.PathLike, device: str = "cpu") -> TrainedModel:
    """Load any trained sciimg model directory (``results/<experiment>/model``)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: model directory does not exist")
    card = path / CARD
    task = json.loads(card.read_text())["task"] if card.is_file() else None
    return Regressor(path, device) if task == "regression" else TrainedModel(path, device)


def load_regressor(path: str | os.PathLike, device: str = "cpu") -> Regressor:
    """Load a trained regressor directory; see :class:`Regressor`."""
    model = load_model(path, device)
    if not isinstance(model, Regressor):
        raise InputError(f"{path}: model task must be 'regression', got {model.metadata['task']!r}")
    return model
