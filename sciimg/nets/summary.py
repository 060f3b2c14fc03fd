"""Per-backbone summary: parameters, receptive field, FLOPs and output stride."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from sciimg.nets.receptive_field import receptive_field
from sciimg.nets.registry import available, build


def summarise(name: str, spatial_dims: int, size: int, in_channels: int = 1, **options: Any) -> dict[str, Any]:
    """Summarise backbone ``name`` on one input of ``size`` per spatial axis.

    Returns:
        dict with ``params``, ``receptive_field`` (of the centre output unit, per axis),
        ``gflops`` (forward pass, batch of one), ``output_shape`` and ``output_stride``.
    """
    model = build(name, spatial_dims, in_channels, **options).eval()
    x = torch.zeros(1, in_channels, *([size] * spatial_dims))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = model(x)
    centre = y.shape[-1] // 2
    return {
        "name": name,
        "spatial_dims": spatial_dims,
        "params": sum(p.numel() for p in model.parameters()),
        "receptive_field": receptive_field(model, centre, spatial_dims),
        "gflops": counter.get_total_flops() / 1e9,
        "output_shape": tuple(y.shape[1:]),
        "output_stride": size // y.shape[-1],
    }


def summary_table(spatial_dims: int, size: int, in_channels: int = 1) -> str:
    """A text table summarising every registered backbone."""
    header = f"{'backbone':<22}{'params':>12}{'RF':>8}{'GFLOPs':>10}{'stride':>8}  output"
    lines = [f"spatial_dims={spatial_dims}, input {in_channels} x {size}^{spatial_dims}", header]
    for name in available():
        row = summarise(name, spatial_dims, size, in_channels)
        lines.append(
            f"{name:<22}{row['params']:>12,}{row['receptive_field'][0]:>8}"
            f"{row['gflops']:>10.3f}{row['output_stride']:>8}  {row['output_shape']}"
        )
    return "\n".join(lines)
