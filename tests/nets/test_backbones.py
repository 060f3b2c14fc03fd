"""Backbone library: shapes, parameter counts, receptive fields and export, in 2D and 3D."""

import pytest
import torch
from torch import nn

import sciimg.nets as nets
from sciimg.nets.layers import AvgPool, MaxPool
from sciimg.nets.receptive_field import receptive_field

SMALL = {
    "vgg11": {"widths": [4, 4, 8, 8, 8]},
    "vgg16": {"widths": [4, 4, 8, 8, 8]},
    "resnet18": {"widths": [4, 8, 8, 8]},
    "resnet34": {"widths": [4, 4, 4, 4]},
    "resnet50": {"widths": [2, 2, 2, 2]},
    "inception": {"widths": [8, 8, 8]},
    "inception_factorised": {"widths": [8, 8, 8]},
    "unet": {"encoder": "resnet18", "encoder_options": {"widths": [4, 4, 8, 8]}, "out_channels": 3},
    "pconv_unet": {"widths": [4, 8, 8], "strides": [1, 2, 2], "out_channels": 3},
}
DENSE = ("unet", "pconv_unet")


def test_every_registered_backbone_has_a_small_test_config():
    assert sorted(SMALL) == nets.available()


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_output_shapes(name, spatial_dims):
    model = nets.build(name, spatial_dims=spatial_dims, in_channels=2, **SMALL[name]).eval()
    size = 32 if spatial_dims == 2 else 16
    x = torch.randn(2, 2, *([size] * spatial_dims))
    y = model(x)
    if name in DENSE:
        assert y.shape == (2, 3, *([size] * spatial_dims))
    else:
        stride = {"vgg": 16, "res": 8, "inc": 4}[name[:3]]
        assert y.shape == (2, model.out_channels, *([size // stride] * spatial_dims))


def test_unet_keeps_odd_input_sizes():
    model = nets.build("unet", 3, 1, encoder="vgg11", encoder_options={"widths": [2] * 5})
    assert model(torch.randn(1, 1, 9, 21, 13)).shape == (1, 1, 9, 21, 13)


def test_small_vgg_parameter_count_matches_hand_calculation():
    model = nets.build("vgg11", 2, 1, widths=[4, 8, 8, 8, 8], norm="none")
    # stage widths 4,8,8,8,8 with 1,1,2,2,2 convs: weights k^2*cin*cout + bias cout
    convs = [(1, 4), (4, 8), (8, 8), (8, 8), (8, 8), (8, 8), (8, 8), (8, 8)]
    expected = sum(9 * cin * cout + cout for cin, cout in convs)
    assert sum(p.numel() for p in model.parameters()) == expected == 40 + 296 + 6 * 584
    with_bn = nets.build("vgg11", 2, 1, widths=[4, 8, 8, 8, 8], norm="batch")
    batch_norm_extra = sum(cout for _, cout in convs)  # conv bias dropped, BN gamma + beta added
    assert sum(p.numel() for p in with_bn.parameters()) == expected + batch_norm_extra


def test_bottleneck_resnet_uses_projection_shortcuts():
    model = nets.build("resnet50", 2, 1, widths=[2, 2, 2, 2])
    first = model.stages[0][1]
    assert isinstance(first.shortcut, nn.Sequential)  # 2 -> 8 channels
    assert isinstance(model.stages[0][2].shortcut, nn.Identity)
    assert model.stages[1][0].shortcut[0].stride == (2, 2)


def _probe_receptive_field(model: nn.Module, spatial_dims: int, size: int) -> tuple[int, ...]:
    """Backpropagate from the centre output unit and measure the extent of nonzero gradient."""
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, tuple(MaxPool.values())):  # max-pool routes gradient to one cell
                pool = AvgPool[spatial_dims](child.kernel_size, child.stride, child.padding)
                setattr(module, child_name, pool)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0 / max(p.numel() ** 0.5, 1.0))
    model.eval()
    x = torch.ones(1, model_in_channels(model), *([size] * spatial_dims), requires_grad=True)
    y = model(x)
    centre = tuple(n // 2 for n in y.shape[2:])
    y[(0, slice(None), *centre)].sum().backward()  # all channels: every branch counts
    nonzero = x.grad[0, 0].abs() > 0
    extents = []
    for axis in range(spatial_dims):
        other = tuple(a for a in range(spatial_dims) if a != axis)
        hit = nonzero.any(dim=other) if other else nonzero
        idx = torch.nonzero(hit).flatten()
        assert idx.min() > 0 and idx.max() < size - 1, "receptive field touches the border"
        extents.append(int(idx.max() - idx.min() + 1))
    return tuple(extents)


def model_in_channels(model: nn.Module) -> int:
    return next(m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)).in_channels


@pytest.mark.parametrize(
    ("name", "spatial_dims", "size", "options"),
    [
        ("vgg11", 2, 160, SMALL["vgg11"]),
        ("resnet18", 2, 160, SMALL["resnet18"]),
        ("resnet50", 2, 160, SMALL["resnet50"]),
        ("inception", 2, 96, SMALL["inception"]),
        ("inception_factorised", 2, 160, {"widths": [8, 8, 8], "kernel": 5}),
        ("unet", 2, 160, SMALL["unet"]),
        ("pconv_unet", 2, 96, {"widths": [4, 8, 8], "strides": [1, 2, 2], "norm": "none"}),  # group norm: global
        ("pconv_unet", 3, 48, {"widths": [2, 2], "norm": "batch"}),
        ("resnet18", 3, 48, {"widths": [2, 2, 2], "blocks_per_stage": [1, 1, 1]}),
        ("inception_factorised", 3, 48, {"widths": [4, 4], "modules_per_stage": [1, 1]}),
        (
            "unet",
            3,
            48,
            {
                "encoder": "resnet18",
                "encoder_options": {"widths": [2] * 3, "blocks_per_stage": [1] * 3},
            },
        ),
    ],
)
def test_receptive_field_equals_gradient_probe(name, spatial_dims, size, options):
    model = nets.build(name, spatial_dims, 1, **options)
    probe_model = nets.build(name, spatial_dims, 1, **options)
    measured = _probe_receptive_field(probe_model, spatial_dims, size)
    with torch.no_grad():
        out = model(torch.zeros(1, 1, *([size] * spatial_dims)))
    computed = receptive_field(model, out.shape[-1] // 2, spatial_dims)
    assert computed == measured


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_torch_export_matches_eager(name, spatial_dims):
    model = nets.build(name, spatial_dims, 1, **SMALL[name]).eval()
    size = 32 if spatial_dims == 2 else 16
    x = torch.randn(2, 1, *([size] * spatial_dims))
    exported = torch.export.export(model, (x,))
    torch.testing.assert_close(exported.module()(x), model(x), rtol=1e-4, atol=1e-5)


def test_unknown_backbone_and_option_give_clear_errors():
    with pytest.raises(ValueError, match=r"backbone must be one of \[.*'resnet18'.*\], got 'resnet17'"):
        nets.build("resnet17", 2, 1)
    with pytest.raises(ValueError, match="options of backbone 'vgg11' must be among"):
        nets.build("vgg11", 2, 1, width=[1])
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3, got 4"):
        nets.build("vgg11", 4, 1)
    with pytest.raises(ValueError, match="norm must be one of"):
        nets.build("resnet18", 2, 1, norm="batchnorm")


@pytest.mark.parametrize(("act", "initialiser_is_he"), [("relu", True), ("gelu", False)])
def test_initialisation_follows_activation(act, initialiser_is_he):
    torch.manual_seed(0)
    model = nets.build("vgg11", 2, 64, widths=[256] * 5, act=act)
    weight = model.stages[0][0][0].weight
    he_std = (2.0 / (256 * 9)) ** 0.5  # kaiming normal, fan_out mode
    xavier_std = (2.0 / (64 * 9 + 256 * 9)) ** 0.5
    expected = he_std if initialiser_is_he else xavier_std
    assert weight.std().item() == pytest.approx(expected, rel=0.05)


def test_heads():
    pooled = nets.GlobalPoolHead(3, 8, 2, hidden=16)
    assert pooled(torch.randn(4, 8, 3, 5, 7)).shape == (4, 2)
    dense = nets.DenseHead(2, 8, 5)
    assert dense(torch.randn(1, 8, 6, 6)).shape == (1, 5, 6, 6)


def test_a_stride_two_stem_halves_every_stage_and_a_unet_refuses_it():
    options = {"widths": [2, 4], "blocks_per_stage": [1, 1]}
    model = nets.build("resnet18", 3, 1, stem_stride=2, **options)
    assert model.strides == [2, 4]
    features = model.forward_features(torch.zeros(1, 1, 16, 16, 16))
    assert [f.shape[-1] for f in features] == [8, 4]
    with pytest.raises(ValueError, match="first stage keeps full resolution"):
        nets.build("unet", 3, 1, encoder="resnet18", encoder_options={**options, "stem_stride": 2})
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2"):
        nets.build("resnet18", 3, 1, stem_stride=4, **options)
