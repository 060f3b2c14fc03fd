"""Network input channels of a Cherenkov camera image, in camera-pixel space.

``charge`` (p.e.), ``peak_time`` (ns, relative to the charge-weighted mean time of the
cleaned pixels, zero outside them: times of noise pixels carry no information),
``clean_mask`` (1 in pixels kept by tail-cuts cleaning) and ``radius`` (each pixel's
distance from the camera centre, m: a fixed coordinate channel, because convolutions and
global pooling cannot otherwise tell where in the camera an image lies, which is what
carries the impact distance; it is unchanged by rotations about the centre). Ingest and inference both build
inputs here, so a trained model always sees what it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHANNELS = ("charge", "peak_time", "clean_mask", "radius")
NORMALISATION = {"charge": None, "peak_time": "standard", "clean_mask": "none", "radius": "standard"}


def camera_channels(
    images: np.ndarray,
    peak_times: np.ndarray | None,
    masks: np.ndarray | None,
    channels: Sequence[str],
    radius: np.ndarray | None = None,
) -> np.ndarray:
    """Stack the requested channels: ``(n_events, n_pixels)`` arrays -> ``(n_events, C, n_pixels)``."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise ValueError(f"channels must be among {list(CHANNELS)}, got {unknown}")
    stacked = []
    for channel in channels:
        if channel == "charge":
            stacked.append(images)
            continue
        if channel == "radius":
            if radius is None:
                raise ValueError("channel 'radius' needs the pixel distances from the camera centre")
            stacked.append(np.broadcast_to(radius, images.shape))
            continue
        if masks is None:
            raise ValueError(f"channel {channel!r} needs the cleaning masks")
        if channel == "clean_mask":
            stacked.append(masks.astype(np.float32))
            continue
        if peak_times is None:
            raise ValueError("channel 'peak_time' needs peak-time images")
        weights = np.where(masks, np.clip(images, 0, None), 0.0)
        total = weights.sum(axis=1, keepdims=True)
        mean_time = (weights * peak_times).sum(axis=1, keepdims=True) / np.where(total > 0, total, 1.0)
        stacked.append(np.where(masks, peak_times - mean_time, 0.0))
    return np.stack(stacked, axis=1).astype(np.float32)
