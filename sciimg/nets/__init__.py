"""Backbones for 2D and 3D images, chosen by name: VGG, ResNet, Inception, U-Net."""

from sciimg.nets.heads import DenseHead, GlobalPoolHead
from sciimg.nets.registry import available, build, build_encoder, register, takes_mask

__all__ = ["DenseHead", "GlobalPoolHead", "available", "build", "build_encoder", "register", "takes_mask"]
