"""Sky images (FITS) -> tiles in train/val/test sample stores, split by whole file.

Each science image is cut into ``tile_size`` squares (the last row and column of tiles
flush with the image edge, so every pixel is in a tile; images smaller than a tile are
padded with bad pixels). Tiles are read one at a time from the memory-mapped file, so
memory does not grow with the image. A sidecar ``<name>.truth.fits`` (what the simulator
writes) adds the clean image as ``target``.

Store keys: ``image`` (ADU, NaN at bad pixels), ``mask`` (1 = usable pixel), ``target``
(clean ADU, when truth exists), ``pair`` (for Noise2Noise: the second exposure
``<name>.pair.fits``, ADU) and, for the cleaning task, ``labels``: per pixel the
artefact the truth masks name (:data:`sciimg.io.store_readers.ARTEFACT_CODES`). For the detection task,
``extra/sources`` lists the truth sources of every tile (:data:`SOURCE_FIELDS`, tile
pixel coordinates). Per tile, ``meta`` holds the file index, the tile's
corner, and its sky level and noise (median and MAD standard deviation of usable
pixels), which the dataset normalises with.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from sciimg.data.sky_scale import detector_noise, noise_level, overscan_pedestal, sampled_noise_level
from sciimg.data.splits import split_indices
from sciimg.errors import InputError
from sciimg.io.fits import PAIR_SUFFIX, TRUTH_SUFFIX, FitsImage, Region
from sciimg.io.store import StoreWriter
from sciimg.io.store_readers import ARTEFACT_CODES
from sciimg.provenance import provenance

log = logging.getLogger(__name__)
TILE_COLUMNS = {
    "file": np.int64,
    "y0": np.int64,
    "x0": np.int64,
    "background": np.float32,
    "sigma": np.float32,
    "gain": np.float32,
    "read_noise_e": np.float32,
}
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fits.fz")
# Per-pixel label codes of the cleaning task, from the truth masks (later ones win).
# Truth sources per tile (detection task): the tile's row, position in tile pixels, flux (ADU), SNR, star or galaxy.
SOURCE_FIELDS = [("tile", "<i8"), ("y", "<f4"), ("x", "<f4"), ("flux", "<f4"), ("snr", "<f4"), ("star", "?")]
TRUTH_MASKS = {"TRAILMASK": "trail", "CRMASK": "cosmic_ray", "BADMASK": "defect", "SATMASK": "saturated"}


def sky_files(inputs: list[Path]) -> list[Path]:
    """FITS images among ``inputs``; a folder stands for its FITS files (truth and pair sidecars excluded)."""
    files: list[Path] = []
    for path in inputs:
        found = sorted(p for p in path.iterdir() if p.name.endswith(FITS_SUFFIXES)) if path.is_dir() else [path]
        files += [p for p in found if not p.name.endswith((TRUTH_SUFFIX, PAIR_SUFFIX))]
    if not files:
        raise InputError(f"{', '.join(map(str, inputs))}: no FITS image found")
    return files


def truth_path(path: Path, suffix: str = TRUTH_SUFFIX) -> Path | None:
    """The simulator's truth sidecar of an image (or, with ``PAIR_SUFFIX``, its second exposure), if it exists."""
    stem = path.name.split(".")[0]
    candidate = path.with_name(stem + suffix)
    return candidate if candidate.is_file() else None


def tile_regions(shape: tuple[int, int], tile: int) -> list[Region]:
    """Tiles covering the image; the last ones flush with the edge (they may overlap the previous)."""

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        return sorted({*range(0, n - tile, tile), n - tile})

    return [
        Region(y, min(y + tile, shape[0]), x, min(x + tile, shape[1]))
        for y in starts(shape[0])
        for x in starts(shape[1])
    ]


def _padded(values: np.ndarray, tile: int, fill: float) -> np.ndarray:
    pad = [(0, tile - values.shape[0]), (0, tile - values.shape[1])]
    return np.pad(values, pad, constant_values=fill) if any(p[1] for p in pad) else values


def artefact_labels(truth: fits.HDUList, region: Region) -> np.ndarray:
    """Per-pixel :data:`ARTEFACT_CODES` of a region, from the truth sidecar's masks."""
    missing = [name for name in TRUTH_MASKS if name not in truth]
    if missing:
        raise InputError(f"{truth.filename()}: truth has no {missing} extension, which the cleaning task needs")
    labels = np.zeros((region.y1 - region.y0, region.x1 - region.x0), np.uint8)
    for name, kind in TRUTH_MASKS.items():
        labels[np.asarray(truth[name].section[region.slices]) != 0] = ARTEFACT_CODES[kind]
    return labels


def tile_sources(truth: fits.HDUList, region: Region) -> np.ndarray:
    """Truth sources centred in a tile (pixel centres at integers), in tile pixels; :data:`SOURCE_FIELDS` rows
    (``tile`` left 0 for the caller)."""
    if "SOURCES" not in truth:
        raise InputError(f"{truth.filename()}: truth has no SOURCES table, which the detection task needs")
    table = truth["SOURCES"].data
    x, y = np.asarray(table["x"], float), np.asarray(table["y"], float)
    inside = (y >= region.y0 - 0.5) & (y < region.y1 - 0.5) & (x >= region.x0 - 0.5) & (x < region.x1 - 0.5)
    rows = np.zeros(int(inside.sum()), SOURCE_FIELDS)
    rows["y"], rows["x"] = y[inside] - region.y0, x[inside] - region.x0
    rows["flux"], rows["snr"] = np.asarray(table["flux"])[inside], np.asarray(table["snr"])[inside]
    rows["star"] = np.char.strip(np.asarray(table["type"]).astype(str))[inside] == "star"
    return rows


@dataclass
class TileSettings:
    """How the images of a split are cut and read."""

    tile: int
    truth: bool  # every image has a truth sidecar
    labels: bool  # store the truth's artefact masks as per-pixel labels (cleaning task)
    sources: bool  # store the truth's source catalog per tile (detection task)
    stabilised: bool  # Anscombe scale: asked for, and every image's header gives gain and read noise
    hdu: int | str | None = None
    dq: int | str | None = None
    pairs: bool = False  # store every image's second exposure (<name>.pair.fits) for Noise2Noise


def ingest_sky(
    inputs: list[Path],
    out_dir: Path,
    spec: Mapping[str, Any],
    artefact_labels: bool = False,
    source_catalogs: bool = False,
) -> dict[str, Path]:
    """FITS images -> tiles -> ``out_dir/{train,val,test}.h5`` (see the module docstring).

    Args:
        artefact_labels: store per-pixel artefact labels from the truth files (cleaning).
        source_catalogs: store each tile's truth sources (detection).
    """
    data = spec["data"]
    files = sky_files(inputs)
    options = data.get("files", {})
    tile = data["tile_size"]
    if len(files) < 3:
        raise InputError(f"{files[0]}: {len(files)} image(s) cannot be split into train/val/test; give at least 3")
    splits = split_indices(len(files), data["split"], spec["seed"])
    if any(len(index) == 0 for index in splits.values()):
        raise InputError(f"{files[0]}: {len(files)} images leave a split empty with fractions {data['split']}")
    plans, with_noise_cards = [], True
    for index, path in enumerate(files):
        with FitsImage(path, options.get("hdu"), options.get("dq")) as image:
            sampled_noise_level(image)  # an image with (almost) no usable pixel is an error, not a split's tiles
            noise = detector_noise(image.header, str(path))  # a damaged GAIN or RDNOISE card is an error here
            with_noise_cards &= bool(np.isfinite(noise).all())
            plans.append((index, path, image.shape, image.header.tostring()))
    stabilised = data["pixel_scale"] == "auto" and with_noise_cards
    has_truth = [truth_path(p) is not None for p in files]
    if any(has_truth) and not all(has_truth):
        missing = [str(p) for p, t in zip(files, has_truth, strict=True) if not t][:3]
        raise InputError(f"{missing[0]}: some images have a truth sidecar and these do not: {missing}")
    attrs = {
        "modality": "sky",
        "task": spec["task"],
        "axes": "C,Y,X",
        "channels": ["image"],
        "normalisation": "per tile, see pixel_scale: Anscombe transform minus the sky's, or (x - median) / MAD std",
        "units": {"image": "adu", "target": "adu"},
        "tile_size": tile,
        "pixel_scale": "anscombe" if stabilised else "standardised",
        "provenance": provenance(spec, files, spec["seed"]),
        "training_target": data["training_target"],  # the denoising evaluation's targets depend on it
    }
    extra = {"files": np.array([p.name for p in files]), "headers": np.array([h for *_, h in plans])}
    labels, sources = artefact_labels, source_catalogs
    if labels:
        attrs["mask_dilation"] = data["mask_dilation"]  # how far the artefacts the inpainter fills are grown
    if sources:
        attrs["target_purity"] = data["target_purity"]  # the detectors' cuts are calibrated to it
    if (labels or sources) and not all(has_truth):
        what = "artefact masks" if labels else "source catalogs"
        raise InputError(f"{files[0]}: the {spec['task']} task trains on simulated images with truth {what}")
    pairs = data.get("training_target") == "noise2noise"
    if pairs:
        missing = [str(p) for p in files if truth_path(p, PAIR_SUFFIX) is None][:3]
        if missing:
            raise InputError(
                f"{missing[0]}: noise2noise needs a second exposure beside each image, <name>{PAIR_SUFFIX}"
            )
    hdus = (options.get("hdu"), options.get("dq"))
    settings = TileSettings(tile, all(has_truth), labels, sources, stabilised, *hdus, pairs=pairs)
    outputs = {}
    for split, chosen in splits.items():
        outputs[split] = out_dir / f"{split}.h5"
        _write_split(outputs[split], [plans[i] for i in chosen], settings, {**attrs, "split": split}, extra)
    return outputs


def _tiles(plans: list, settings: TileSettings) -> Iterator[tuple[tuple, np.ndarray, np.ndarray, dict]]:
    """Per tile: (file index, region, gain, read noise), pixels (NaN where bad), usable mask, truth arrays."""
    for index, file, shape, header in plans:
        gain, read_noise = detector_noise(fits.Header.fromstring(header)) if settings.stabilised else (np.nan, np.nan)
        with contextlib.ExitStack() as files:
            image = files.enter_context(FitsImage(file, settings.hdu, settings.dq))
            bias = overscan_pedestal(image)[0] if settings.stabilised else 0.0  # stores hold ADU above the bias
            clean = files.enter_context(FitsImage(truth_path(file), "CLEAN")) if settings.truth else None
            pair = (
                files.enter_context(FitsImage(truth_path(file, PAIR_SUFFIX), settings.hdu)) if settings.pairs else None
            )
            if pair is not None and pair.shape != shape:
                raise InputError(f"{pair.path}: second exposure of shape {pair.shape}, the image is {shape}")
            pair_bias = overscan_pedestal(pair)[0] if pair is not None and settings.stabilised else 0.0
            catalog = settings.labels or settings.sources
            masks = files.enter_context(fits.open(truth_path(file), memmap=True)) if catalog else None
            for region in tile_regions(shape, settings.tile):
                values = image.read(region)
                good = ~image.bad_pixels(region, values)
                values = values - bias
                truth = {"target": clean.read(region)} if clean else {}
                if pair is not None:
                    second = pair.read(region)
                    truth["pair"] = np.where(pair.bad_pixels(region, second), np.nan, second - pair_bias)
                if settings.labels:
                    truth["labels"] = artefact_labels(masks, region)
                if settings.sources:
                    truth["sources"] = tile_sources(masks, region)
                yield (index, region, gain, read_noise), np.where(good, values, np.nan), good, truth


WRITE_BATCH = 32  # tiles per HDF5 write: per-tile h5py calls took a third of the FITS ingest (cProfile)


def stacked(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Blocks of one tile each, as one block of consecutive tiles."""
    return {key: np.concatenate([block[key] for block in blocks]) for key in blocks[0]}


def _write_split(path: Path, plans: list, settings: TileSettings, attrs: dict[str, Any], extra: dict) -> None:
    """Write the tiles of some images, :data:`WRITE_BATCH` tiles at a time."""
    tile = settings.tile
    n_tiles = sum(len(tile_regions(shape, tile)) for _, _, shape, _ in plans)
    layouts: dict[str, tuple[tuple[int, ...], Any]] = {
        "image": ((1, tile, tile), np.float32),
        "mask": ((1, tile, tile), np.uint8),
    }
    if settings.truth:
        layouts["target"] = ((1, tile, tile), np.float32)
    if settings.labels:
        layouts["labels"] = ((1, tile, tile), np.uint8)
    if settings.pairs:
        layouts["pair"] = ((1, tile, tile), np.float32)
    meta = {name: np.zeros(n_tiles, dtype) for name, dtype in TILE_COLUMNS.items()}
    sources, pending = [], []
    with StoreWriter(path, n_tiles, layouts, None, extra, attrs) as store:
        for row, ((index, region, gain, read_noise), values, good, truth) in enumerate(_tiles(plans, settings)):
            background, sigma = noise_level(values)
            columns = (index, region.y0, region.x0, background, sigma, gain, read_noise)
            for name, value in zip(TILE_COLUMNS, columns, strict=True):
                meta[name][row] = value
            block = {
                "image": _padded(values, tile, np.nan)[None, None],
                "mask": _padded(good.astype(np.uint8), tile, 0)[None, None],
            }
            if "target" in truth:
                block["target"] = _padded(truth["target"], tile, np.nan)[None, None]
            if "labels" in truth:
                block["labels"] = _padded(truth["labels"], tile, 0)[None, None]
            if "pair" in truth:
                block["pair"] = _padded(truth["pair"], tile, np.nan)[None, None]
            if "sources" in truth:
                truth["sources"]["tile"] = row
                sources.append(truth["sources"])
            pending.append(block)
            if len(pending) == WRITE_BATCH:
                store.write(row + 1 - len(pending), stacked(pending))
                pending = []
        if pending:
            store.write(n_tiles - len(pending), stacked(pending))
        store.write_meta(meta)
        if settings.sources:
            store.write_extra({"sources": np.concatenate(sources) if sources else np.zeros(0, SOURCE_FIELDS)})
    log.info("%s: %d tiles of %d x %d from %d images", path.name, n_tiles, tile, tile, len(plans))
