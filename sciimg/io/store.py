"""The sample store: one HDF5 file per split, one sample per chunk, read lazily per worker.

Layout::

    /image            (N, C, *spatial) float32 (camera stores: (N, C, n_pixels)), one sample per chunk
    /target           (N, ...) as the task needs (optional)
    /mask             (N, ...) (optional)
    /labels           (N, ...) per-pixel class codes (optional)
    /pair             (N, ...) a second noisy exposure of the same sample, for Noise2Noise (optional)
    /meta/<column>    (N,) per-sample table (event ids, true parameters, ...)
    /extra/<name>     anything needed to map inputs (e.g. a pixel index table); text kept as UTF-8
    attrs             modality, axes, units, normalisation, provenance (JSON strings)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sciimg.errors import InputError
from sciimg.io.atomic import atomic_path

SAMPLE_KEYS = ("image", "target", "mask", "labels", "pair")


class StoreWriter:
    """Write a sample store block by block, so memory does not grow with the number of samples.

    Use as a context manager; the file appears (atomically) only if the block succeeds::

        with StoreWriter(path, n, {"image": ((1, 64, 64), np.float32)}, attrs=...) as store:
            store.write(0, {"image": first_block})

    Args:
        path: output file.
        n_samples: samples in the store.
        layouts: per sample key (:data:`SAMPLE_KEYS`), the shape of one sample and its dtype.
        meta: per-sample columns, each of length ``n_samples``.
        extra: arrays stored once for the whole split.
        attrs: JSON-serialisable attributes (modality, axes, units, normalisation, provenance).
        chunks: per sample key, the chunk shape of one sample (default: the whole sample), so
            a crop of a large volume reads only the chunks it touches.
        compression: HDF5 filter of the sample datasets (``"lzf"`` suits sparse volumes).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_samples: int,
        layouts: Mapping[str, tuple[tuple[int, ...], Any]],
        meta: Mapping[str, np.ndarray] | None = None,
        extra: Mapping[str, np.ndarray] | None = None,
        attrs: Mapping[str, Any] | None = None,
        chunks: Mapping[str, tuple[int, ...]] | None = None,
        compression: str | None = None,
    ) -> None:
        if "image" not in layouts:
            raise ValueError(f"samples must contain 'image', got {sorted(layouts)}")
        unknown = sorted(set(layouts) - set(SAMPLE_KEYS))
        if unknown:
            raise ValueError(f"sample keys must be among {list(SAMPLE_KEYS)}, got {unknown}")
        for key, column in (meta or {}).items():
            if len(column) != n_samples:
                raise ValueError(f"meta column {key} must have {n_samples} rows, got {len(column)}")
        self.path, self.n_samples, self.layouts = Path(path), n_samples, layouts
        self.meta, self.extra, self.attrs = meta or {}, extra or {}, attrs or {}
        self.chunks, self.compression = dict(chunks or {}), compression
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> StoreWriter:
        tmp = self._stack.enter_context(atomic_path(self.path))
        self.h5 = self._stack.enter_context(h5py.File(tmp, "w"))
        for key, (shape, dtype) in self.layouts.items():
            chunks = (1, *self.chunks.get(key, shape)) if self.n_samples else None
            compression = self.compression if self.n_samples else None
            self.h5.create_dataset(
                key, shape=(self.n_samples, *shape), dtype=dtype, chunks=chunks, compression=compression
            )
        for key, column in self.meta.items():
            self.h5.create_dataset(f"meta/{key}", data=column)
        for key, array in self.extra.items():
            array = np.asarray(array)
            self.h5.create_dataset(f"extra/{key}", data=array.astype(bytes) if array.dtype.kind == "U" else array)
        for key, value in self.attrs.items():
            self.h5.attrs[key] = json.dumps(value)
        return self

    def write(self, start: int, block: Mapping[str, np.ndarray]) -> None:
        """Write samples ``start, start + 1, ...`` of every key in ``block``."""
        for key, array in block.items():
            if key not in self.layouts:
                raise ValueError(f"{key!r} is not a sample key of this store, got {sorted(self.layouts)}")
            self.h5[key][start : start + len(array)] = array

    def write_meta(self, columns: Mapping[str, np.ndarray]) -> None:
        """Per-sample columns known only after the samples were written (each ``n_samples`` long)."""
        for key, column in columns.items():
            if len(column) != self.n_samples:
                raise ValueError(f"meta column {key} must have {self.n_samples} rows, got {len(column)}")
            self.h5.create_dataset(f"meta/{key}", data=column)

    def write_extra(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Arrays stored once for the split, known only after the samples were written."""
        for key, array in arrays.items():
            self.h5.create_dataset(f"extra/{key}", data=array)

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self._stack.__exit__(*exc_info)


def write_store(
    path: str | os.PathLike,
    samples: Mapping[str, np.ndarray],
    meta: Mapping[str, np.ndarray] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write a whole sample store at once, atomically (see :class:`StoreWriter`).

    Args:
        samples: ``image`` (required) and optionally ``target``/``mask``/``labels``, first axis = sample.
    """
    if "image" not in samples:
        raise ValueError(f"samples must contain 'image', got {sorted(samples)}")
    n = len(samples["image"])
    for key, array in samples.items():
        if len(array) != n:
            raise ValueError(f"{key} must have {n} samples, got {len(array)}")
    layouts = {key: (np.shape(array)[1:], np.asarray(array).dtype) for key, array in samples.items()}
    with StoreWriter(path, n, layouts, meta, extra, attrs) as store:
        store.write(0, samples)


class SampleStore:
    """Lazy, fork-safe reader of a sample store.

    The HDF5 handle is opened on first access in each process, so a store created in the
    main process can be handed to DataLoader workers (h5py handles must not cross a fork).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: sample store does not exist")
        try:
            with h5py.File(self.path, "r") as h5:
                if "image" not in h5:
                    raise InputError(f"{self.path}: sample store must contain 'image'")
                self._length = len(h5["image"])
                self.keys = [k for k in SAMPLE_KEYS if k in h5]
                self.attrs = {k: json.loads(v) for k, v in h5.attrs.items()}
        except OSError as error:
            raise InputError(f"{self.path}: not a readable HDF5 sample store ({error})") from None
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._samples: dict[str, h5py.Dataset] = {}  # per-sample datasets of this process's handle

    @staticmethod
    def is_store(path: str | os.PathLike) -> bool:
        """Whether ``path`` is an HDF5 sample store (rather than some other HDF5 or native file)."""
        if not h5py.is_hdf5(path):
            return False
        try:
            with h5py.File(path, "r") as h5:
                return "image" in h5 and "meta" in h5
        except OSError as error:  # an HDF5 signature on a truncated or damaged file
            raise InputError(f"{path}: not a readable HDF5 file ({error})") from None

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = h5py.File(self.path, "r")
            self._pid = os.getpid()
            self._samples = {}
        return self._h5

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        h5 = self._file()
        if not self._samples:  # looking a dataset up by name costs as much as reading a small sample
            self._samples = {key: h5[key] for key in self.keys}
        return {key: dataset[index] for key, dataset in self._samples.items()}

    def read(self, key: str) -> np.ndarray:
        """Read a whole dataset (``image``, ``target``, ``meta/<col>``, ``extra/<name>``)."""
        h5 = self._file()
        if key not in h5:
            raise InputError(f"{self.path}: sample store has no {key!r}")
        return h5[key][()]

    def meta(self) -> dict[str, np.ndarray]:
        """All per-sample meta columns."""
        h5 = self._file()
        return {k: h5["meta"][k][()] for k in h5.get("meta", {})}

    def extra(self) -> dict[str, np.ndarray]:
        """All arrays stored once for the split."""
        h5 = self._file()
        arrays = {k: h5["extra"][k][()] for k in h5.get("extra", {})}
        return {k: np.asarray(v).astype(str) if np.asarray(v).dtype.kind == "S" else v for k, v in arrays.items()}

    def close(self) -> None:
        """Close this process's handle."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None
        self._samples = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_h5"] = None
        state["_pid"] = None
        state["_samples"] = {}
        return state
