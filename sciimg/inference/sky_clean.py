"""The ``clean`` step: a trained :class:`~sciimg.predictors.cleaning.CleaningPredictor` on stores and FITS images.

The detector's threshold is calibrated once, after training, on the validation split
(:func:`calibrate_threshold`): the probability above which the chosen share
(``target_fpr``) of artefact-free pixels is flagged. The model card keeps it, so a user's
image is cleaned at the operating point that was measured.

Per pixel the step yields the artefact probability, the mask of replaced pixels (flagged
pixels grown by ``mask_dilation``, and pixels that were bad on input) and the cleaned
image: inpainted under the mask, the input everywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from sciimg.data.sky_dataset import SkyCleaningDataset
from sciimg.data.sky_scale import TileScale
from sciimg.inference.sky import SkyModel
from sciimg.io.store_readers import artefact_holes
from sciimg.predictors.cleaning import CleaningPredictor

PROBABILITY, MASK, CLEANED = range(3)  # channels of a cleaned window


def artefact_probabilities(network: CleaningPredictor, store_path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Detector probabilities of the labelled pixels of a store: (artefact pixels, artefact-free pixels)."""
    dataset = SkyCleaningDataset(store_path)
    positives, negatives = [], []
    network.eval()
    for index in range(len(dataset)):
        item = dataset[index]
        with torch.no_grad():
            probability = torch.sigmoid(network(item["image"][None] * item["mask"][None]))[0, 0].numpy()
        labelled, artefact = item["label_valid"][0].numpy(), item["labels"][0].numpy() > 0
        positives.append(probability[labelled & artefact])
        negatives.append(probability[labelled & ~artefact])
    return np.concatenate(positives), np.concatenate(negatives)


def calibrate_threshold(network: CleaningPredictor, val_store: str | os.PathLike, target_fpr: float) -> dict[str, Any]:
    """The probability threshold that flags ``target_fpr`` of the validation split's artefact-free pixels."""
    positives, negatives = artefact_probabilities(network, val_store)
    threshold = float(np.quantile(negatives, 1 - target_fpr, method="higher")) if negatives.size else 0.5
    return {
        "threshold": threshold,
        "target_fpr": target_fpr,
        "val_fpr": float((negatives > threshold).mean()) if negatives.size else float("nan"),
        "val_tpr": float((positives > threshold).mean()) if positives.size else float("nan"),
        "val_pixels": int(positives.size + negatives.size),
    }


def calibrate_card(network: CleaningPredictor, val_store: str | os.PathLike, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The model card's artefact threshold, at the experiment's target false-positive rate on validation."""
    return {"artefact_threshold": calibrate_threshold(network, val_store, spec["data"]["target_fpr"])}


class CleaningWindows(nn.Module):
    """A cleaner's pass: windows ``(B, 2, y, x)`` -> artefact probability, replaced-pixel mask (0/1) and
    cleaned image, ``(B, 3, y, x)``."""

    def __init__(self, network: CleaningPredictor, threshold: float, dilation: int) -> None:
        super().__init__()
        self.network, self.threshold, self.dilation = network, threshold, dilation

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        out = self.network.clean(windows[:, :1], windows[:, 1:], self.threshold, self.dilation)
        return torch.cat([out["probability"], out["mask"].to(windows.dtype), out["cleaned"]], dim=1)


class CleaningModel(SkyModel):
    """A trained cleaning model: mask, probability and cleaned image, at the calibrated threshold."""

    out_channels = 3

    @property
    def threshold(self) -> float:
        return float(self.metadata["artefact_threshold"]["threshold"])

    @property
    def dilation(self) -> int:
        return int(self.metadata["sky"]["mask_dilation"])

    def window_module(self) -> nn.Module:
        return CleaningWindows(self.network, self.threshold, self.dilation)

    def predict_store(self, store_path: str | os.PathLike) -> dict[str, np.ndarray]:
        """Per tile: ``TILE`` (cleaned, ADU), ``PROB`` (artefact probability), ``FOUND`` (probability above
        the threshold), ``MASK`` (1 = replaced: found, grown, and bad pixels), ``FILLED`` (the true
        artefacts, grown alike, filled by the inpainter: inpainting apart from detection)."""
        dataset = SkyCleaningDataset(store_path)
        layers: dict[str, list[np.ndarray]] = {"TILE": [], "PROB": [], "FOUND": [], "MASK": [], "FILLED": []}
        for index in range(len(dataset)):
            arrays = dataset.normalised(index)
            block = self.predict_normalised(arrays["image"], arrays["usable"])
            values = dataset.store[index]["image"][0]
            cleaned, masks = self.finish_rows(block, values, arrays["usable"], dataset.scales[index])
            layers["TILE"].append(cleaned)
            layers["PROB"].append(block[PROBABILITY])
            layers["FOUND"].append((block[PROBABILITY] > self.threshold) & arrays["usable"])
            layers["MASK"].append(masks["ARTEFACT"] | masks["BADPIX"])
            holes = artefact_holes(arrays["labels"], dataset.mask_dilation) | ~arrays["usable"]
            filled = self.fill_normalised(arrays["image"], holes)
            layers["FILLED"].append(np.where(holes, dataset.scales[index].inverse(filled), values).astype(np.float32))
        return {name: np.stack(tiles) for name, tiles in layers.items()}

    def fill_normalised(self, image: np.ndarray, holes: np.ndarray) -> np.ndarray:
        """The inpainter's image, on the network's scale, given the pixels to fill (by sliding window)."""
        stacked = np.stack([np.where(holes, 0.0, image), ~holes]).astype(np.float32)
        read = lambda region: stacked[(slice(None), *region)]  # noqa: E731

        def fill(batch: torch.Tensor) -> torch.Tensor:
            batch = batch.to(self.device)
            return self.network.inpaint(batch[:, :1], batch[:, 1:])

        return self.slide(read, image.shape, fill)[0]

    def history(self) -> str:
        return f"artefacts found and filled by {self.metadata.get('backbone')} ({self.path.name})"

    def finish_rows(
        self, block: np.ndarray, values: np.ndarray, usable: np.ndarray, scale: TileScale
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Cleaned rows: inpainted where the blended mask says so (and at bad pixels), the input elsewhere."""
        replaced = (block[MASK] >= 0.5) | ~usable
        cleaned = np.where(replaced, scale.inverse(block[CLEANED]), values).astype(np.float32)
        return cleaned, {"ARTEFACT": replaced & usable, "BADPIX": ~usable}
