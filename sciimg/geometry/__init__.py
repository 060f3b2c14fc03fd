"""Camera geometries, hexagonal-pixel -> square-grid mappers, and voxel grids."""

from sciimg.geometry.mappers import MAPPERS, GridMapper, build_mapper

__all__ = ["MAPPERS", "GridMapper", "build_mapper"]
