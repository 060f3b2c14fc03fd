"""Per-tile FITS files: a method's output on the tiles of a sample store, one image HDU per tile and layer.

Each tile's header is its source image's header with the WCS reference pixel moved to the
tile, so every tile still maps to the sky. Layers: ``TILE`` (the image, ADU) and, as the
task gives them, ``PROB``, ``FOUND``, ``MASK``, ``FILLED`` (sky cleaning).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path
from sciimg.io.fits import PROVENANCE_KEY
from sciimg.io.store import SampleStore
from sciimg.provenance import provenance


def tile_header(header_text: str, y0: int, x0: int) -> fits.Header:
    """The source image's header with its WCS reference pixel moved to a tile at ``(y0, x0)``."""
    header = fits.Header.fromstring(header_text)
    for axis, offset in (("1", x0), ("2", y0)):
        if f"CRPIX{axis}" in header:
            header[f"CRPIX{axis}"] = header[f"CRPIX{axis}"] - offset
    return header


def write_tile_images(
    store_path: str | os.PathLike,
    layers: Mapping[str, np.ndarray],
    output: str | os.PathLike,
    history: str,
    inputs: Sequence[str | os.PathLike],
) -> Path:
    """Per store tile, one image HDU per layer (``<LAYER><row>``, e.g. ``TILE3``), with the tile's header, atomically.

    Float layers are written as float32 (ADU for ``TILE``), integer ones (masks) as they are.
    """
    store = SampleStore(store_path)
    meta, texts = store.meta(), store.extra()["headers"]
    for name, images in layers.items():
        if len(images) != len(store):
            raise ValueError(f"layer {name} must have one entry per tile ({len(store)}), got {len(images)}")
    primary = fits.PrimaryHDU()
    primary.header[PROVENANCE_KEY] = (json.dumps(provenance(inputs=inputs), sort_keys=True), "sciimg provenance (JSON)")
    primary.header.add_history(f"sciimg: {history}")
    hdus: list = [primary]
    for row in range(len(store)):
        header = tile_header(str(texts[int(meta["file"][row])]), int(meta["y0"][row]), int(meta["x0"][row]))
        header.add_history(f"sciimg: {history}")
        for name, images in layers.items():
            image = np.asarray(images[row])
            data = image if image.dtype.kind in "iub" else image.astype(np.float32)
            hdus.append(fits.ImageHDU(data.astype(np.uint8) if data.dtype == bool else data, header, f"{name}{row}"))
    with atomic_path(output, suffix=".fits.tmp") as tmp:
        fits.HDUList(hdus).writeto(tmp, output_verify="silentfix")
    store.close()
    return Path(output)


def read_tile_layers(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every layer of the tiles written by :func:`write_tile_images`, each ``(N, Y, X)`` in tile order."""
    try:
        with fits.open(path) as hdul:
            hdus: dict[str, dict[int, fits.ImageHDU]] = {}
            for hdu in hdul[1:]:
                if match := re.fullmatch("([A-Z]+?)([0-9]+)", hdu.name):
                    hdus.setdefault(match[1], {})[int(match[2])] = hdu
            layers = {}
            for layer, tiles in hdus.items():
                dtype = np.float32 if tiles[0].data.dtype.kind == "f" else tiles[0].data.dtype
                layers[layer] = np.stack([np.asarray(tiles[row].data, dtype) for row in sorted(tiles)])
            return layers
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"{path}: not a tile file written by sciimg ({error})") from None


def read_tile_images(path: str | os.PathLike, layer: str = "TILE") -> np.ndarray:
    """One layer of the tiles written by :func:`write_tile_images`, ``(N, Y, X)``, in tile order."""
    layers = read_tile_layers(path)
    if layer not in layers:
        raise InputError(f"{path}: has no {layer}<n> tile extensions")
    return layers[layer]
