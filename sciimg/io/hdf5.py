"""Opening HDF5 files for reading: one clear error for a missing, foreign or damaged file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import h5py

from sciimg.errors import InputError


@contextlib.contextmanager
def open_hdf5(path: str | os.PathLike) -> Iterator[h5py.File]:
    """``h5py.File(path, "r")``, or an :class:`~sciimg.errors.InputError` naming ``path`` and what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an HDF5 file")
    if not path.is_file():
        raise InputError(f"{path}: input file does not exist")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:  # an HDF5 signature on a truncated or damaged file
        raise InputError(f"{path}: not a readable HDF5 file ({error})") from None
    with h5:
        yield h5
