"""The installed sciimg version (light to import: recorded in every output's provenance)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sciimg")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
