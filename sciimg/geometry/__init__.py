"""Hexagonal camera <-> square grid mappings."""

from sciimg.geometry.hexgrid import AxialMapping

__all__ = ["AxialMapping"]
