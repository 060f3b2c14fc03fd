"""Input paths as users give them: files, folders and globs (light to import)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from sciimg.errors import InputError


def expand_inputs(patterns: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand paths and globs, in sorted order; a pattern that matches nothing is an error."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(str(pattern))))
        if not matches:
            raise InputError(f"{pattern}: no input file matches this path")
        paths += [Path(m) for m in matches]
    return paths
