"""Provenance recorded in every output: version, config hash, inputs with checksums, seed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sciimg.version import __version__


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """Return a short stable hash of a JSON-serialisable config."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def provenance(
    config: Mapping[str, Any] | None = None,
    inputs: Iterable[str | os.PathLike] = (),
    seed: int | None = None,
) -> dict[str, Any]:
    """Build the provenance record stored with an output file."""
    return {
        "sciimg_version": __version__,
        "config_hash": config_hash(config or {}),
        "inputs": [{"name": Path(p).name, "sha256": sha256_file(p)} for p in inputs],
        "seed": seed,
    }
