"""N-D sliding-window inference with overlap and Gaussian blending, output kept on the CPU.

Windows are cut from any array-like that can be sliced (a numpy array, a memory map, or a
callable reading a region from a file), run in batches, weighted by a Gaussian that
falls towards the window edge, and summed into the output. Each window's outer margin
(half the overlap) is dropped except where it lies on the image border: there a network
sees padding instead of the true neighbours, so only the image's own border keeps such
pixels, as whole-image inference would. With a margin wider than the network's reach,
the result equals whole-image inference; the blend has no seams, and every pixel,
including the image border, is covered. Finished rows can be handed on as soon as no
later window touches them, so memory holds one window's depth of rows, not the image.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start offsets along one axis: step ``window * (1 - overlap)``, the last window flush with the end."""
    if window >= size:
        return [0]
    step = max(1, int(window * (1 - overlap)))
    starts = list(range(0, size - window, step))
    return [*starts, size - window]


def gaussian_weight(window: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """Separable Gaussian importance map (sigma = ``sigma_scale`` x window), floored to stay positive."""
    weight = np.ones((), np.float32)
    for n in window:
        axis = np.arange(n, dtype=np.float32) - (n - 1) / 2
        g = np.exp(-0.5 * (axis / (sigma_scale * n)) ** 2)
        weight = np.multiply.outer(weight, g / g.max())
    return np.maximum(weight, 1e-3).astype(np.float32)


def _trim_margins(weight: np.ndarray, region: tuple[slice, ...], shape: tuple[int, ...], margins: list[int]):
    """The window's weight with zero in its margins, except along the image border."""
    trimmed = weight.copy()
    for axis, (piece, size, margin) in enumerate(zip(region, shape, margins, strict=True)):
        index = [slice(None)] * len(shape)
        if piece.start > 0 and margin:
            index[axis] = slice(0, margin)
            trimmed[tuple(index)] = 0
        if piece.stop < size and margin:
            index[axis] = slice(-margin, None)
            trimmed[tuple(index)] = 0
    return trimmed


Sink = Callable[[int, np.ndarray], None]


def sliding_window(
    read: Callable[[tuple[slice, ...]], np.ndarray],
    shape: Sequence[int],
    predict: Callable[[torch.Tensor], torch.Tensor],
    window: int | Sequence[int],
    overlap: float = 0.25,
    batch_size: int = 4,
    out_channels: int = 1,
    sink: Sink | None = None,
) -> np.ndarray | None:
    """Predict a whole image window by window.

    Windows are visited in order along the first axis; as soon as no later window can
    touch a block of rows (first-axis slices), the block is final and goes to ``sink``, so
    only one window's depth of rows is held at a time.

    Args:
        read: returns the input ``(C, *window)`` for a tuple of spatial slices.
        shape: spatial shape of the image.
        predict: a batch ``(B, C, *window)`` -> ``(B, out_channels, *window)``.
        window: window size (per axis, or one for all); clipped to the image.
        overlap: fraction of a window shared with its neighbour (0 <= overlap < 1).
        batch_size: windows per call of ``predict``.
        sink: called as ``sink(first_row, block)`` with each final block
            ``(out_channels, rows, *shape[1:])``, in order; without it the whole output is
            assembled and returned.

    Returns:
        the blended prediction ``(out_channels, *shape)``, or None when a ``sink`` took it.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    shape = tuple(int(n) for n in shape)
    windows = (window,) * len(shape) if isinstance(window, int) else tuple(window)
    windows = tuple(min(w, n) for w, n in zip(windows, shape, strict=True))
    weight = gaussian_weight(windows)
    margins = [int(overlap * w / 2) for w in windows]
    whole = np.zeros((out_channels, *shape), np.float32) if sink is None else None

    def assemble(first: int, block: np.ndarray) -> None:
        whole[:, first : first + block.shape[1]] = block

    sink = sink or assemble
    depth = windows[0]
    total = np.zeros((out_channels, depth, *shape[1:]), np.float32)  # rows [offset, offset + depth)
    norm = np.zeros((depth, *shape[1:]), np.float32)
    offset = 0
    rest = list(itertools.product(*(window_starts(n, w, overlap) for n, w in zip(shape[1:], windows[1:], strict=True))))
    first_starts = window_starts(shape[0], depth, overlap)
    for k, y in enumerate(first_starts):
        positions = [(y, *p) for p in rest]
        for first in range(0, len(positions), batch_size):
            regions = [
                tuple(slice(s, s + w) for s, w in zip(p, windows, strict=True))
                for p in positions[first : first + batch_size]
            ]
            inputs = torch.from_numpy(np.stack([np.asarray(read(r), np.float32) for r in regions]))
            with torch.no_grad():
                outputs = predict(inputs).float().cpu().numpy()
            for region, output in zip(regions, outputs, strict=True):
                trimmed = _trim_margins(weight, region, shape, margins)
                local = (slice(region[0].start - offset, region[0].stop - offset), *region[1:])
                total[(slice(None), *local)] += output * trimmed
                norm[local] += trimmed
        done = first_starts[k + 1] if k + 1 < len(first_starts) else shape[0]
        rows = done - offset
        sink(offset, total[:, :rows] / norm[:rows])
        total, norm = np.roll(total, -rows, axis=1), np.roll(norm, -rows, axis=0)
        total[:, depth - rows :] = 0
        norm[depth - rows :] = 0
        offset = done
    return whole
