"""Camera geometries and hexagonal-pixel -> square-grid mappers."""

from sciimg.geometry.mappers import MAPPERS, GridMapper, build_mapper

__all__ = ["MAPPERS", "GridMapper", "build_mapper"]
