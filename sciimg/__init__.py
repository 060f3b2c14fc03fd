"""sciimg: convolutional networks for scientific images, measured against classical methods."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sciimg.version import __version__

if TYPE_CHECKING:
    from sciimg.inference.load import Regressor, TrainedModel

__all__ = ["__version__", "load_model", "load_regressor"]


def load_model(path: str | os.PathLike, device: str = "cpu", runtime: str = "auto") -> TrainedModel:
    """Load any trained sciimg model folder; see :func:`sciimg.inference.load.load_model`."""
    from sciimg.inference.load import load_model as _load_model

    return _load_model(path, device, runtime)


def load_regressor(path: str | os.PathLike, device: str = "cpu") -> Regressor:
    """Load a trained regressor folder; see :func:`sciimg.inference.load.load_regressor`."""
    from sciimg.inference.load import load_regressor as _load_regressor

    return _load_regressor(path, device)
