"""Samples of a sky-tile store: denoising (noisy in, clean or blind-spot target out) and artefact cleaning.

Pixels are put on a scale of unit noise per tile (:class:`~sciimg.data.sky_scale.TileScale`:
the Anscombe transform when gain and read noise are known, else ``(x - sky) / sigma``), so
images of any depth and gain look alike to the network; predictions are mapped back.

``training_target``:

* ``clean``: supervised, the simulator's noise-free image is the target.
* ``noise2noise``: self-supervised from pairs (Lehtinen et al. 2018): the target is a
  second exposure of the same field (the store's ``pair``), whose noise is independent of
  the input's, so the expected target is the clean image; the two swap at random in training.
* ``noise2void``: self-supervised (Krull et al. 2019). A random ``blind_spot_fraction`` of
  the usable pixels is replaced by a random other pixel of its 5 x 5 neighbourhood; the
  target is the original noisy image and only those pixels count. Pixel noise that is
  independent between pixels cannot be predicted from the neighbours, so the network
  learns the clean signal without ever seeing it.

Cleaning items (:class:`SkyCleaningDataset`) add the artefact labels and the holes an
inpainting network learns to fill.

Training items are random ``patch_size`` crops with random flips and 90-degree turns,
drawn from ``(seed, epoch, index)``; validation and test items are whole tiles (the
blind spots of validation are fixed per tile).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from sciimg.data.sky_scale import TileScale
from sciimg.errors import ConfigError
from sciimg.io.store import SampleStore
from sciimg.io.store_readers import ARTEFACT_CODES, artefact_holes
from sciimg.simulate.sky import cosmic_rays

TRAINING_TARGETS = ("clean", "noise2noise", "noise2void")
NEIGHBOURHOOD = 2  # blind-spot replacements come from the 5 x 5 neighbourhood


def blind_spots(
    image: np.ndarray, usable: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noise2Void masking of a ``(Y, X)`` image: the image with blind spots replaced, and the spot mask."""
    ny, nx = image.shape
    n_spots = max(1, round(fraction * usable.sum()))
    candidates = np.flatnonzero(usable)
    if candidates.size == 0:
        return image, np.zeros_like(usable)
    spots = rng.choice(candidates, size=min(n_spots, candidates.size), replace=False)
    y, x = np.unravel_index(spots, image.shape)
    offsets = rng.integers(-NEIGHBOURHOOD, NEIGHBOURHOOD + 1, size=(2, len(spots)))
    same = (offsets == 0).all(axis=0)
    offsets[1, same] = rng.choice([-1, 1], size=same.sum())  # never the pixel itself
    source_y = np.clip(y + offsets[0], 0, ny - 1)
    source_x = np.clip(x + offsets[1], 0, nx - 1)
    masked = image.copy()
    masked[y, x] = image[source_y, source_x]
    spot_mask = np.zeros(image.shape, bool)
    spot_mask[y, x] = True
    return masked, spot_mask & usable


@dataclass
class CropTurn:
    """A crop of a tile at ``(y0, x0)``, turned by ``turns`` quarter turns (``np.rot90``), then flipped left-right."""

    y0: int
    x0: int
    shape: tuple[int, int]
    turns: int
    flip: bool

    @classmethod
    def draw(cls, shape: tuple[int, int], patch_size: int, rng: np.random.Generator) -> CropTurn:
        """A random square crop of side ``patch_size`` (at most the tile), turn and flip."""
        ny, nx = shape
        size = min(patch_size, ny, nx)
        y0, x0 = rng.integers(0, ny - size + 1), rng.integers(0, nx - size + 1)
        return cls(int(y0), int(x0), (size, size), int(rng.integers(4)), bool(rng.integers(2)))

    def array(self, array: np.ndarray) -> np.ndarray:
        """The crop of a ``(Y, X)`` array, turned and flipped."""
        crop = np.rot90(array[self.y0 : self.y0 + self.shape[0], self.x0 : self.x0 + self.shape[1]], self.turns)
        return crop[:, ::-1] if self.flip else crop

    def points(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (tile pixels, centres at integers) in the crop's turned and flipped frame."""
        y, x = y - self.y0, x - self.x0
        height, width = self.shape
        for _ in range(self.turns % 4):  # np.rot90: new (y, x) = (width - 1 - x, y)
            y, x = width - 1 - x, y
            height, width = width, height
        return (y, width - 1 - x) if self.flip else (y, x)


class SkyDenoisingDataset(Dataset):
    """Items: ``image``, ``mask`` (usable pixels), ``target``, ``valid`` (pixels the loss counts), all ``(1, Y, X)``.

    Args:
        path: store file.
        train: random crops, flips and turns (train split) instead of whole tiles.
        seed: seed of the crops, flips and blind spots.
        training_target: ``clean`` or ``noise2void``.
        patch_size: side of a training crop.
        blind_spot_fraction: fraction of usable pixels masked per item (noise2void).
        crops_per_tile: training crops drawn from each tile per epoch.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool = False,
        seed: int = 0,
        training_target: str = "clean",
        patch_size: int = 64,
        blind_spot_fraction: float = 0.02,
        crops_per_tile: int = 1,
    ) -> None:
        if training_target not in TRAINING_TARGETS:
            raise ConfigError(f"data.training_target must be one of {list(TRAINING_TARGETS)}, got {training_target!r}")
        self.store = SampleStore(path)
        if training_target == "clean" and "target" not in self.store.keys:
            raise ConfigError(
                f"{path}: training_target 'clean' needs clean truth (a simulator's .truth.fits); "
                "train on your own images with training_target: noise2void"
            )
        if training_target == "noise2noise" and "pair" not in self.store.keys:
            raise ConfigError(
                f"{path}: training_target 'noise2noise' needs second exposures (<name>.pair.fits) at ingest"
            )
        self.train, self.seed, self.training_target = train, seed, training_target
        self.patch_size, self.blind_spot_fraction = patch_size, blind_spot_fraction
        self.crops_per_tile = crops_per_tile if train else 1
        meta = self.store.meta()
        self.scales = [
            TileScale(*(float(meta[k][row]) for k in ("background", "sigma", "gain", "read_noise_e")))
            for row in range(len(self.store))
        ]

    @property
    def in_channels(self) -> int:
        return 1

    @property
    def spatial_dims(self) -> int:
        return 2

    def __len__(self) -> int:
        return len(self.store) * self.crops_per_tile

    def normalised(self, index: int) -> dict[str, np.ndarray]:
        """Image, usable mask and clean target (if stored) of one tile on the network's scale, NaN -> 0."""
        sample = self.store[index]
        usable = sample["mask"][0].astype(bool) & np.isfinite(sample["image"][0])
        scale = self.scales[index]
        out = {"image": np.where(usable, scale.forward(sample["image"][0]), 0.0).astype(np.float32), "usable": usable}
        if "target" in sample:
            clean = sample["target"][0]
            finite = np.isfinite(clean)
            out["clean"] = np.where(finite, scale.forward(clean), 0.0).astype(np.float32)
            out["clean_valid"] = finite
        if "labels" in sample:
            out["labels"] = sample["labels"][0]
        if "pair" in sample:
            second = sample["pair"][0]
            out["pair_usable"] = np.isfinite(second)
            out["pair"] = np.where(out["pair_usable"], scale.forward(second), 0.0).astype(np.float32)
        return out

    def drawn(self, key: int | tuple[int, int]) -> tuple[int, dict[str, np.ndarray], np.random.Generator, CropTurn]:
        """The tile of an item key (an index, or ``(epoch, index)``), cropped and turned when training, the
        item's random generator (from the seed, the epoch when training, and the index) and the crop."""
        epoch, item = key if isinstance(key, tuple) else (0, key)
        rng = np.random.default_rng([self.seed, epoch if self.train else 0, item])
        index = item % len(self.store)
        arrays = self.normalised(index)
        shape = arrays["image"].shape
        crop = CropTurn.draw(shape, self.patch_size, rng) if self.train else CropTurn(0, 0, shape, 0, False)
        return index, {key: crop.array(array) for key, array in arrays.items()}, rng, crop

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, arrays, rng, _ = self.drawn(key)
        image, usable = arrays["image"], arrays["usable"]
        if self.training_target == "noise2void":
            masked, spots = blind_spots(image, usable, self.blind_spot_fraction, rng)
            image, target, valid = masked, arrays["image"], spots
        elif self.training_target == "noise2noise":
            target, target_usable = arrays["pair"], arrays["pair_usable"]
            if self.train and rng.integers(2):  # either exposure can be the input
                image, usable, target, target_usable = target, target_usable, image, usable
            valid = usable & target_usable
        else:
            target, valid = arrays["clean"], arrays["clean_valid"] & usable
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)[None]),
            "mask": torch.from_numpy(np.ascontiguousarray(usable, np.float32)[None]),
            "target": torch.from_numpy(np.ascontiguousarray(target)[None]),
            "valid": torch.from_numpy(np.ascontiguousarray(valid)[None]),
            "index": torch.tensor(index),
        }


class SkyCleaningDataset(SkyDenoisingDataset):
    """Items for artefact detection and inpainting, all ``(1, Y, X)`` on the network's scale.

    ``image`` and ``mask`` (usable pixels) as for denoising; ``labels`` (1 = cosmic ray,
    hot pixel, bad column or satellite trail) and ``label_valid`` (usable, not saturated);
    ``holes``: the artefacts grown by the store's ``mask_dilation`` (as the cleaning step
    grows what it finds) plus, on the train split, random cosmic-ray-shaped holes anywhere, so the
    inpainter also learns to fill stars and galaxies; ``target``: the clean image, and
    ``valid``: pixels with truth.

    Args:
        path, train, seed, patch_size, crops_per_tile: see :class:`SkyDenoisingDataset`.
        extra_holes_per_mpix: density of the random training holes (per million pixels).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        train: bool = False,
        seed: int = 0,
        patch_size: int = 64,
        crops_per_tile: int = 1,
        extra_holes_per_mpix: float = 1500.0,
    ) -> None:
        super().__init__(path, train, seed, "clean", patch_size, crops_per_tile=crops_per_tile)
        if "labels" not in self.store.keys:
            raise ConfigError(f"{path}: the cleaning task needs per-pixel artefact labels (ingest with task cleaning)")
        self.mask_dilation = int(self.store.attrs["mask_dilation"])
        self.extra_holes_per_mpix = extra_holes_per_mpix

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, arrays, rng, _ = self.drawn(key)
        usable, labels = arrays["usable"], arrays["labels"]
        holes = artefact_holes(labels, self.mask_dilation)
        if self.train:
            holes = holes | (cosmic_rays(usable.shape, self.extra_holes_per_mpix, rng) > 0)
        items = {
            "image": arrays["image"],
            "mask": usable.astype(np.float32),
            "labels": ((labels > 0) & (labels < ARTEFACT_CODES["saturated"])).astype(np.float32),
            "label_valid": usable & (labels != ARTEFACT_CODES["saturated"]),
            "holes": holes & usable,
            "target": arrays["clean"],
            "valid": arrays["clean_valid"] & usable,
        }
        out = {name: torch.from_numpy(np.ascontiguousarray(array)[None]) for name, array in items.items()}
        return {**out, "index": torch.tensor(index)}
