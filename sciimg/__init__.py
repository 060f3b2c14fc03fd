"""sciimg: convolutional networks for scientific images, measured against classical methods."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sciimg")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "load_model", "load_regressor"]


def load_model(path):
    """Load any trained sciimg model directory; see :func:`sciimg.inference.load.load_model`."""
    from sciimg.inference.load import load_model as _load_model

    return _load_model(path)


def load_regressor(path):
    """Load a trained regressor directory; see :func:`sciimg.inference.load.load_regressor`."""
    from sciimg.inference.load import load_regressor as _load_regressor

    return _load_regressor(path)
