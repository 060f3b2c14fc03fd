"""Source catalogs: a FITS binary table (``CATALOG`` extension) or ECSV, chosen by the output's suffix.

Positions ``x``, ``y`` are 0-based pixel coordinates (the centre of the first pixel is 0,
as in numpy, sep and photutils; add 1 for the FITS convention). ``ra``, ``dec`` (degrees)
come from the image's celestial WCS when it has one; otherwise the columns are absent and
the table's ``RADEC`` keyword says why. Tables are written atomically with provenance.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.table import Table

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path
from sciimg.io.fits import PROVENANCE_KEY, celestial_wcs

CATALOG_EXTNAME = "CATALOG"
FITS_SUFFIXES = (".fits", ".fit", ".fts")
NO_WCS = "the image has no celestial WCS: no RA/Dec"


def add_sky_positions(table: Table, header: fits.Header) -> Table:
    """Add ``ra``, ``dec`` (deg) from the header's celestial WCS, or note in ``RADEC`` that there is none."""
    wcs = celestial_wcs(header)
    if wcs is None:
        table.meta["RADEC"] = NO_WCS
        return table
    ra, dec = wcs.pixel_to_world_values(np.asarray(table["x"], float), np.asarray(table["y"], float))
    table["ra"], table["dec"] = np.asarray(ra, float), np.asarray(dec, float)
    table["ra"].unit = table["dec"].unit = "deg"
    table.meta["RADEC"] = f"from the image's WCS ({wcs.wcs.radesys or 'ICRS'})"
    return table


def write_catalog(table: Table, output: str | os.PathLike, provenance: Mapping[str, Any], history: str) -> Path:
    """Write a catalog as FITS (``.fits``: a ``CATALOG`` table HDU) or ECSV (``.ecsv``), atomically."""
    output = Path(output)
    table = table.copy(copy_data=False)
    table.meta["HISTORY"] = [f"sciimg: {history}"]
    if output.name.endswith(FITS_SUFFIXES):
        primary = fits.PrimaryHDU()
        primary.header[PROVENANCE_KEY] = (json.dumps(provenance, sort_keys=True), "sciimg provenance (JSON)")
        primary.header.add_history(f"sciimg: {history}")
        hdu = fits.table_to_hdu(table)
        hdu.name = CATALOG_EXTNAME
        with atomic_path(output) as tmp:
            fits.HDUList([primary, hdu]).writeto(tmp)
        return output
    if output.suffix == ".ecsv":
        table.meta["provenance"] = dict(provenance)
        with atomic_path(output) as tmp:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
        return output
    raise InputError(f"{output}: a catalog is written as .fits or .ecsv, got {output.suffix or 'no suffix'!r}")


def read_catalog(path: str | os.PathLike) -> Table:
    """A catalog written by :func:`write_catalog` (FITS ``CATALOG`` extension or ECSV)."""
    path = Path(path)
    try:
        if path.name.endswith(FITS_SUFFIXES):
            with fits.open(path) as hdul:
                if CATALOG_EXTNAME not in hdul:
                    raise InputError(f"{path}: has no {CATALOG_EXTNAME} table extension (not a catalog)")
                return Table.read(hdul[CATALOG_EXTNAME])
        return Table.read(path, format="ascii.ecsv")
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable catalog ({error})") from None
