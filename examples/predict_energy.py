"""Load a trained energy regressor and reconstruct energies of camera images from a DL1 file.

Usage:
    python examples/predict_energy.py results/cherenkov_energy/model data/raw/cherenkov_energy/simulated.dl1.h5
"""

import sys

import numpy as np

import sciimg
from sciimg.io.dl1 import read_dl1


def main(model_dir: str, dl1_file: str) -> None:
    regressor = sciimg.load_regressor(model_dir)
    events = read_dl1(dl1_file)
    energy, sigma = regressor.predict(events.image, return_std=True)
    print(f"{len(energy)} events, energies in {regressor.units}")
    for event_id, e, s in list(zip(events.event_id, energy, sigma, strict=True))[:10]:
        print(f"event {event_id:6d}: E = {e:8.3f} +- {s:7.3f} {regressor.units}")
    if "true_energy" in events.shower:
        ratio = energy / events.shower["true_energy"] - 1
        print(f"median E_reco/E_true - 1 = {np.median(ratio):+.3f} (includes training events)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
