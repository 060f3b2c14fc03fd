"""FITS images in and out with astropy: the science HDU, its bad-pixel mask, headers and WCS kept.

Reading is lazy (memory-mapped, or tile-decompressed for ``.fits.fz``): a
:class:`FitsImage` hands out any rectangle of the science image as native-endian float32
with BSCALE/BZERO applied, so a 16k x 16k image is processed tile by tile. Bad pixels are
NaN/inf pixels, non-zero pixels of a data-quality extension (``DQ``) and non-zero pixels
of an optional mask file.

Writing keeps the input's primary and science headers unchanged (WCS included), adds
HISTORY and a ``SCIPROV`` provenance card, writes masks as extra ``uint8`` extensions,
and is atomic.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import textwrap
import warnings
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS, FITSFixedWarning

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path

# Cards astropy writes from the data itself; everything else is copied from the input.
STRUCTURAL = ("SIMPLE", "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "EXTEND", "PCOUNT", "GCOUNT")
SCALING = ("BSCALE", "BZERO", "BLANK")
COMPRESSION = ("ZIMAGE", "ZBITPIX", "ZNAXIS", "ZNAXIS1", "ZNAXIS2", "ZTILE1", "ZTILE2", "ZCMPTYPE", "ZQUANTIZ")
PROVENANCE_KEY = "SCIPROV"
log = logging.getLogger(__name__)
DQ_NAMES = ("DQ", "MASK", "BPM")
# Cards IRAF's ccdproc (and tools following it) write once a raw frame is processed: bias gone, overscan trimmed.
PROCESSED_CARDS = ("OVERSCAN", "TRIM", "ZEROCOR", "CCDPROC", "BIASCORR", "BIASSUB")
SECTION = re.compile(r"\[([^,\]]+),([^,\]]+)\]")  # IRAF image section [x1:x2,y1:y2], 1-based, "*" = all


def _axis_range(part: str, size: int) -> tuple[int, int] | None:
    """``"x1:x2"`` (or ``"*"``, the whole axis) of an image section as 1-based bounds inside ``size``, else None."""
    part = part.strip()
    if part == "*":
        return 1, size
    bounds = re.fullmatch(r"(\d+)\s*:\s*(\d+)", part)
    if bounds is None:
        return None
    first, last = int(bounds[1]), int(bounds[2])
    return (first, last) if 1 <= first <= last <= size else None


# Sidecars beside an image, as the simulator writes them and ingest reads them.
TRUTH_SUFFIX = ".truth.fits"  # clean image, artefact masks and source catalog
PAIR_SUFFIX = ".pair.fits"  # a second exposure of the same field, for Noise2Noise


def _image_hdus(hdul: fits.HDUList) -> list[int]:
    return [i for i, h in enumerate(hdul) if h.is_image and h.header.get("NAXIS", 0) >= 2]


def _science_index(hdul: fits.HDUList, path: Path, hdu: int | str | None) -> int:
    """Index of the science HDU: the one asked for, else ``SCI``, else the first 2-D image."""
    names = [h.name for h in hdul]
    if hdu is None:
        images = [i for i in _image_hdus(hdul) if names[i] not in DQ_NAMES]
        if not images:
            raise InputError(f"{path}: has no image HDU (HDUs: {names})")
        return next((i for i in images if names[i] == "SCI"), images[0])
    if isinstance(hdu, str):
        if hdu.upper() not in names:
            raise InputError(f"{path}: has no HDU named {hdu!r} (HDUs: {names})")
        index = names.index(hdu.upper())
    else:
        if not -len(hdul) <= hdu < len(hdul):
            raise InputError(f"{path}: HDU index must be below {len(hdul)}, got {hdu}")
        index = hdu % len(hdul)
    chosen = hdul[index]
    if not chosen.is_image:
        raise InputError(f"{path}: HDU {hdu!r} is a {type(chosen).__name__} (a table), not an image")
    if chosen.header.get("NAXIS", 0) < 2:
        raise InputError(f"{path}: HDU {hdu!r} holds no 2-D image (NAXIS={chosen.header.get('NAXIS', 0)})")
    return index


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The header's celestial WCS, or None when it has none (then catalogs carry no RA/Dec)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, naxis=2)
        except Exception:  # an unparseable WCS is treated as none; the header is still kept
            return None
    return wcs.celestial if wcs.has_celestial else None


@dataclass
class Region:
    """A rectangle of an image: rows ``y0:y1``, columns ``x0:x1``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


class FitsImage:
    """One science image of a FITS file, read lazily; use as a context manager or call :meth:`close`.

    Args:
        path: ``.fits``, ``.fit``, ``.fts`` (optionally ``.gz``) or tile-compressed ``.fits.fz``.
        hdu: science HDU by index or EXTNAME (default: ``SCI`` if present, else the first 2-D image).
        dq: data-quality HDU (index or name); default: a ``DQ``/``MASK``/``BPM`` extension if present.
        mask_file: a FITS file whose first image marks bad pixels (non-zero), same shape.

    Attributes:
        header: the science HDU's header (unchanged); ``primary_header`` the file's primary one.
        shape: ``(ny, nx)``. ``wcs``: celestial WCS or None.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        hdu: int | str | None = None,
        dq: int | str | None = None,
        mask_file: str | os.PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: FITS file does not exist")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", AstropyUserWarning)  # "File may have been truncated" is an error
                # raw values, memory-mapped; BSCALE/BZERO/BLANK are applied per region in read()
                self._hdul = fits.open(self.path, memmap=True, lazy_load_hdus=False, do_not_scale_image_data=True)
        except (OSError, AstropyUserWarning, ValueError, EOFError, zlib.error) as error:  # zlib: a damaged .gz
            raise InputError(f"{self.path}: not a readable FITS file ({error})") from None
        try:
            self.index = _science_index(self._hdul, self.path, hdu)
            science = self._hdul[self.index]
            self.header = science.header.copy()
            self.primary_header = self._hdul[0].header.copy()
            if science.header["NAXIS"] != 2:
                extra = [science.header[f"NAXIS{i}"] for i in range(3, science.header["NAXIS"] + 1)]
                if any(n != 1 for n in extra):
                    raise InputError(f"{self.path}: science HDU must be a 2-D image, got {science.shape}")
            self.shape = (int(science.header["NAXIS2"]), int(science.header["NAXIS1"]))
            # uncompressed: a memory map of the raw values (slicing reads only the region); compressed: tiles
            self._pixels = science.section if isinstance(science, fits.CompImageHDU) else science.data
            self._scaling = (
                float(self.header.get("BSCALE", 1.0)),
                float(self.header.get("BZERO", 0.0)),
                self.header.get("BLANK") if self.header.get("BITPIX", -32) > 0 else None,
            )
            self._dq = self._dq_section(dq)
            self.overscan = self._overscan()
            self._mask_file = _read_mask_file(mask_file, self.shape) if mask_file is not None else None
            self._check_readable()
        except BaseException:
            self._hdul.close()
            raise

    @functools.cached_property
    def wcs(self) -> WCS | None:
        """The celestial WCS of the science header, or None (parsed on first use: ingest never needs it)."""
        return celestial_wcs(self.header)

    @property
    def extname(self) -> str:
        return self._hdul[self.index].name

    @property
    def is_primary(self) -> bool:
        return self.index == 0

    def _dq_section(self, dq: int | str | None) -> Any:
        names = [h.name for h in self._hdul]
        if dq is None:
            found = [i for i in _image_hdus(self._hdul) if names[i] in DQ_NAMES and i != self.index]
            if not found:
                return None
            dq = found[0]
        index = _science_index(self._hdul, self.path, dq)
        if self._hdul[index].shape[-2:] != self.shape:
            raise InputError(
                f"{self.path}: data-quality HDU {dq!r} must have the science image's shape {self.shape}, "
                f"got {self._hdul[index].shape}"
            )
        hdu = self._hdul[index]
        return hdu.section if isinstance(hdu, fits.CompImageHDU) else hdu.data

    def _overscan(self) -> Region | None:
        """A raw CCD frame's overscan strip (``BIASSEC``); None once processing marked the frame
        (:data:`PROCESSED_CARDS`: the bias is gone, the strip usually trimmed), or when the card is
        not a section of the image (said in the log: the frame is then read as if it had no strip)."""
        section = self.header.get("BIASSEC")
        if section is None or any(card in self.header for card in PROCESSED_CARDS):
            return None
        match = SECTION.fullmatch(str(section).strip())
        sizes = (self.shape[1], self.shape[0])  # x, y
        bounds = [_axis_range(part, n) for part, n in zip(match.groups(), sizes, strict=True)] if match else [None]
        if None in bounds:
            log.warning("%s: BIASSEC = %r is not a section [x1:x2,y1:y2] of the image: no overscan", self.path, section)
            return None
        (x1, x2), (y1, y2) = bounds
        return Region(y1 - 1, y2, x1 - 1, x2)

    def _check_readable(self) -> None:
        """Read the last row: a file cut short fails here, with its name, not later mid-run."""
        try:
            self.read(Region(self.shape[0] - 1, self.shape[0], 0, self.shape[1]))
        except (OSError, ValueError, IndexError, TypeError) as error:
            raise InputError(f"{self.path}: image data is incomplete or corrupt ({error})") from None

    def _region(self, region: Region | None) -> Region:
        return region if region is not None else Region(0, self.shape[0], 0, self.shape[1])

    def read(self, region: Region | None = None) -> np.ndarray:
        """Pixels of ``region`` (default: all) as native float32, BSCALE/BZERO applied, bad pixels kept."""
        ys, xs = self._region(region).slices
        raw = np.asarray(self._pixels[..., ys, xs]).reshape(ys.stop - ys.start, xs.stop - xs.start)
        bscale, bzero, blank = self._scaling
        values = raw.astype(np.float64 if raw.dtype.itemsize > 2 and raw.dtype.kind in "iu" else np.float32)
        if (bscale, bzero) != (1.0, 0.0):
            values = values * bscale + bzero
        if blank is not None:
            values[raw == blank] = np.nan
        return values.astype(np.float32)

    def bad_pixels(self, region: Region | None = None, data: np.ndarray | None = None) -> np.ndarray:
        """Bad pixels of ``region``: not finite, flagged by the DQ extension or by the mask file, or in
        the overscan strip (not sky)."""
        region = self._region(region)
        data = self.read(region) if data is None else data
        bad = ~np.isfinite(data)
        if self.overscan is not None:
            o = self.overscan
            rows = slice(max(o.y0 - region.y0, 0), max(o.y1 - region.y0, 0))
            bad[rows, max(o.x0 - region.x0, 0) : max(o.x1 - region.x0, 0)] = True
        if self._dq is not None:
            bad |= np.asarray(self._dq[..., region.slices[0], region.slices[1]]).reshape(bad.shape) != 0
        if self._mask_file is not None:
            bad |= self._mask_file[region.slices]
        return bad

    def close(self) -> None:
        self._hdul.close()

    def __enter__(self) -> FitsImage:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def _read_mask_file(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    with FitsImage(path) as mask:
        if mask.shape != shape:
            raise InputError(f"{path}: mask must have the science image's shape {shape}, got {mask.shape}")
        values = mask.read()
    return np.nan_to_num(values, nan=1.0) != 0


def read_image(
    path: str | os.PathLike, hdu: int | str | None = None, dq: int | str | None = None, mask_file: Any = None
) -> tuple[np.ndarray, np.ndarray, FitsImage]:
    """The whole science image (float32), its bad-pixel mask, and the closed :class:`FitsImage` (headers, WCS).

    Raises:
        InputError: not a FITS image, truncated, or no finite pixel at all.
    """
    with FitsImage(path, hdu, dq, mask_file) as image:
        data = image.read()
        bad = image.bad_pixels(data=data)
    if bad.all():
        raise InputError(f"{path}: image has no usable pixel (all NaN, inf or flagged bad)")
    return data, bad, image


HISTORY_WIDTH = 72  # characters of a HISTORY card's value


def _output_header(source: FitsImage, history: Sequence[str], provenance: Mapping[str, Any] | None) -> fits.Header:
    """The source's science header (non-structural cards) with sciimg's HISTORY and provenance added.

    A long HISTORY line is cut into cards that each start with ``sciimg:``, so every one of
    them reads as sciimg's (:func:`header_cards`) where FITS would continue it unmarked.
    """
    header = fits.Header()
    _copy_cards(header, source.header)
    for line in history:
        for part in textwrap.wrap(line, HISTORY_WIDTH - len("sciimg: "), break_on_hyphens=False) or [""]:
            header.add_history(f"sciimg: {part}")
    if provenance is not None:
        header[PROVENANCE_KEY] = (json.dumps(provenance, sort_keys=True), "sciimg provenance (JSON)")
    return header


def _stream_header(cards: fits.Header, shape: tuple[int, int], bitpix: int, extname: str | None) -> fits.Header:
    """A complete HDU header (structural cards first) for writing an image row block by row block."""
    header = fits.Header([("XTENSION", "IMAGE")] if extname else [("SIMPLE", True)])
    header["BITPIX"], header["NAXIS"], header["NAXIS1"], header["NAXIS2"] = bitpix, 2, shape[1], shape[0]
    if extname:
        header["PCOUNT"], header["GCOUNT"] = 0, 1
    else:
        header["EXTEND"] = True
    for card in cards.cards:
        header.append(card, end=True)
    if extname:
        header["EXTNAME"] = extname  # where the source had it, else last
    return header


class FitsImageWriter:
    """Write a float32 image of a source's shape row block by row block, in constant memory, atomically.

    The file has the source's layout and headers (as :func:`write_image`); masks follow as
    ``uint8`` extensions, also written by row blocks::

        with FitsImageWriter(out, source, ["denoised"], prov) as writer:
            for rows in blocks:
                writer.write(rows)
            writer.write_mask("BADPIX", mask_blocks)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        source: FitsImage,
        history: Sequence[str] = (),
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        self.path, self.source = Path(path), source
        self.header = _output_header(source, history, provenance)
        self._atomic = atomic_path(self.path, suffix=".fits.tmp")
        self._rows = 0

    def __enter__(self) -> FitsImageWriter:
        self.tmp = self._atomic.__enter__()
        self.tmp.unlink()  # StreamingHDU creates the file, or appends an extension to an existing one
        extname = None
        if not self.source.is_primary:
            primary = fits.Header()
            _copy_cards(primary, self.source.primary_header)
            fits.PrimaryHDU(header=primary).writeto(self.tmp)
            extname = self.source.extname
        self._stream = fits.StreamingHDU(str(self.tmp), _stream_header(self.header, self.source.shape, -32, extname))
        return self

    def write(self, rows: np.ndarray) -> None:
        """The next block of rows, ``(n_rows, nx)``."""
        self._stream.write(np.ascontiguousarray(rows, dtype=">f4"))
        self._rows += len(rows)

    def write_mask(self, name: str, blocks: Iterable[np.ndarray]) -> None:
        """A ``uint8`` mask extension from consecutive row blocks (call after all science rows)."""
        self._close_stream()
        stream = fits.StreamingHDU(str(self.tmp), _stream_header(fits.Header(), self.source.shape, 8, name))
        for rows in blocks:
            stream.write(np.ascontiguousarray(rows, dtype=np.uint8))
        stream.close()

    def _close_stream(self) -> None:
        if self._stream is not None:
            if self._rows != self.source.shape[0]:
                raise ValueError(f"wrote {self._rows} rows of an image of {self.source.shape[0]}")
            self._stream.close()
            self._stream = None

    def __exit__(self, *exc_info: Any) -> bool | None:
        if exc_info[0] is None:
            self._close_stream()
        elif self._stream is not None:
            self._stream.close()
        return self._atomic.__exit__(*exc_info)


def _copy_cards(target: fits.Header, source: fits.Header) -> None:
    """Every non-structural card of ``source`` (COMMENT and HISTORY included), in order."""
    skip = set(STRUCTURAL + SCALING + COMPRESSION)
    for card in source.cards:
        if card.keyword in skip or card.keyword.startswith(("ZTILE", "ZNAME", "ZVAL", "ZNAXIS")):
            continue
        target.append(card, end=True)


def write_image(
    path: str | os.PathLike,
    data: np.ndarray,
    source: FitsImage,
    history: Sequence[str] = (),
    provenance: Mapping[str, Any] | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    dtype: Any = np.float32,
) -> Path:
    """Write ``data`` with the source's primary and science headers, atomically.

    The file has the source's layout: the image in the primary HDU if the source had it
    there, else an empty primary HDU with the source's primary header and the image in an
    extension of the source's EXTNAME. ``masks`` become ``uint8`` image extensions.

    Args:
        dtype: pixel type written (float32 by default; the source's integer type for a
            lossless round trip of unchanged data, with its BSCALE/BZERO).
    """
    data = np.asarray(data)
    if data.shape != source.shape:
        raise ValueError(f"data must have the source image's shape {source.shape}, got {data.shape}")
    header = _output_header(source, history, provenance)
    # a copy: astropy's scale() rewrites the array it is given in place
    out = np.array(data, dtype=np.float32 if np.dtype(dtype).kind == "f" else np.float64)
    if source.is_primary:
        science: fits.PrimaryHDU | fits.ImageHDU = fits.PrimaryHDU(out, header=header)
        hdus: list[Any] = [science]
    else:
        primary = fits.Header()
        _copy_cards(primary, source.primary_header)
        science = fits.ImageHDU(out, header=header, name=source.extname)
        hdus = [fits.PrimaryHDU(header=primary), science]
    if np.dtype(dtype).kind in "iu":
        bzero, bscale = source.header.get("BZERO", 0), source.header.get("BSCALE", 1)
        # FITS stores unsigned integers as signed ones with BZERO (astropy would not shift "uint16" data)
        stored = np.dtype(f"int{8 * np.dtype(dtype).itemsize}") if np.dtype(dtype).kind == "u" else np.dtype(dtype)
        science.scale(stored.name, bzero=bzero, bscale=bscale)
    for name, mask in (masks or {}).items():
        hdus.append(fits.ImageHDU(np.asarray(mask, np.uint8), name=name))
    with atomic_path(path, suffix=".fits.tmp") as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True, output_verify="silentfix")
    return Path(path)


def header_cards(header: fits.Header) -> list[tuple[str, Any, str]]:
    """The header's non-structural cards, without sciimg's own additions (for comparisons)."""
    skip = set(STRUCTURAL + SCALING + COMPRESSION + (PROVENANCE_KEY,))
    return [
        (c.keyword, c.value, c.comment)
        for c in header.cards
        if c.keyword not in skip and not (c.keyword == "HISTORY" and str(c.value).startswith("sciimg"))
    ]
