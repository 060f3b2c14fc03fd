"""Reconstruct gamma-ray energies of the events in a DL1 (or sim_telarray) file and print a spectrum.

Usage:
    python examples/predict_energy.py results/cherenkov_energy/model data/raw/cherenkov_energy/simulated.dl1.h5
"""

import sys

import astropy.units as u
import numpy as np

import sciimg
from sciimg.io.dl1 import read_events


def main(model_dir: str, event_file: str) -> None:
    regressor = sciimg.load_regressor(model_dir)
    events = read_events(event_file).table
    energy, sigma = regressor.predict(events, return_std=True)
    print(f"{len(energy)} events from {event_file}")
    for event_id, e, s in list(zip(events["event_id"], energy, sigma, strict=True))[:5]:
        print(f"  event {event_id:6d}: E = {e:8.3f} +- {s:7.3f}")
    edges = np.logspace(-2, 2, 13) * u.TeV
    counts, _ = np.histogram(energy.to_value(u.TeV), bins=edges.to_value(u.TeV))
    print("\nreconstructed energy spectrum (counts per bin)")
    for low, high, n in zip(edges[:-1], edges[1:], counts, strict=True):
        print(f"  {low.value:8.3f} - {high.value:8.3f} TeV  {n:6d}  {'#' * int(60 * n / max(counts.max(), 1))}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
