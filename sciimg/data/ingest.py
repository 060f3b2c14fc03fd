"""Ingest: read native files, validate, map to grids, split, fit normalisation, write stores.

Each modality's ingest lives in its own module, imported only when used: the Cherenkov one
loads ctapipe, which takes seconds that an ingest of sky images should not pay.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sciimg.data.splits import expand_inputs

INGESTERS = {  # modality -> (module, function)
    "cherenkov": ("sciimg.data.ingest_cherenkov", "ingest_cherenkov"),
    "climate": ("sciimg.data.ingest_fields", "ingest_fields"),
    "sky": ("sciimg.data.ingest_sky", "ingest_sky"),
    "detector3d": ("sciimg.data.ingest_volumes", "ingest_volumes"),
}


def ingest(inputs: list[str], out_dir: str | os.PathLike, spec: Mapping[str, Any]) -> dict[str, Path]:
    """Ingest ``inputs`` for the experiment ``spec`` into ``out_dir/{train,val,test}.h5``."""
    modality = spec["modality"]
    if modality not in INGESTERS:
        raise ValueError(f"modality must be one of {sorted(INGESTERS)}, got {modality!r}")
    module, function = INGESTERS[modality]
    return getattr(importlib.import_module(module), function)(expand_inputs(inputs), Path(out_dir), spec)
