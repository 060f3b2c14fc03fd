"""The calorimetric energy of a detector event: its collected charge times one calibration constant.

What a LArTPC analysis does without a network: sum the charge of every hit and scale it
by a constant that folds in the ionisation work function and an average recombination
(and threshold) loss. The constant is the median of ``energy / charge`` over the training
events, so the median relative error on data like the training data is zero.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sciimg.errors import InputError


class Calorimetric:
    """``E = k * charge_sum``, ``k`` fitted on training events (MeV per unit of charge)."""

    def __init__(self) -> None:
        self.mev_per_charge: float | None = None

    def fit(self, meta: Mapping[str, np.ndarray], energy: np.ndarray) -> Calorimetric:
        """Fit ``k`` on the training events' ``charge_sum`` column and their true energies."""
        charge, energy = np.asarray(meta["charge_sum"], float), np.asarray(energy, float)
        usable = (charge > 0) & (energy > 0)
        if not usable.any():
            raise InputError("calorimetric: no training event has both positive charge and positive energy")
        self.mev_per_charge = float(np.median(energy[usable] / charge[usable]))
        return self

    def predict(self, meta: Mapping[str, np.ndarray]) -> np.ndarray:
        """Energies of events given by their ``charge_sum`` column."""
        if self.mev_per_charge is None:
            raise RuntimeError("calorimetric: fit before predict")
        return self.mev_per_charge * np.asarray(meta["charge_sum"], float)
