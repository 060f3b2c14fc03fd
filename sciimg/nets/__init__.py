"""Backbones for 2D and 3D images, chosen by name: VGG, ResNet, Inception, U-Net."""

from sciimg.nets.heads import DenseHead, GlobalPoolHead
from sciimg.nets.inception import Inception
from sciimg.nets.partial_conv import PartialConvUNet
from sciimg.nets.registry import available, build, build_encoder, register, takes_mask
from sciimg.nets.resnet import RESNET_PRESETS, ResNet
from sciimg.nets.unet import UNet
from sciimg.nets.vgg import VGG, VGG_PRESETS

for _name, _convs in VGG_PRESETS.items():
    register(_name, VGG, convs_per_stage=_convs)
for _name, (_block, _blocks) in RESNET_PRESETS.items():
    register(_name, ResNet, block=_block, blocks_per_stage=_blocks)
register("inception", Inception)
register("inception_factorised", Inception, factorised=True)
register("unet", UNet)
register("pconv_unet", PartialConvUNet)

__all__ = ["DenseHead", "GlobalPoolHead", "available", "build", "build_encoder", "register", "takes_mask"]
