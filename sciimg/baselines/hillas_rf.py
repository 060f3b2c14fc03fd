"""The classical energy estimate of IACT analyses: Hillas parameters + a random forest (lstchain).

Features are the image parameters computed at ingest with ctapipe (tail-cuts 8/4 p.e.):
lstchain's single-telescope energy features, without the pointing terms (the pointing is
fixed here). The forest regresses log10(E) with lstchain's standard settings.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.ensemble import RandomForestRegressor

FEATURES = (
    "log10_intensity",
    "hillas_width",
    "hillas_length",
    "width_over_length",
    "hillas_x",
    "hillas_y",
    "hillas_r",
    "hillas_skewness",
    "hillas_kurtosis",
    "timing_slope",
    "leakage_intensity_width_2",
)


def features(parameters: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(n_events, n_features)`` matrix of :data:`FEATURES` from image-parameter columns."""
    columns = dict(parameters)
    columns["log10_intensity"] = np.log10(np.clip(np.asarray(parameters["hillas_intensity"], float), 1.0, None))
    columns["width_over_length"] = np.asarray(parameters["hillas_width"]) / np.asarray(parameters["hillas_length"])
    return np.column_stack([np.asarray(columns[name], float) for name in FEATURES])


class HillasRandomForest:
    """Random forest on Hillas, timing and leakage parameters; predicts energies in TeV.

    Args:
        n_estimators, max_depth, min_samples_leaf: lstchain's standard settings.
        seed: random state of the forest.
    """

    def __init__(self, n_estimators: int = 50, max_depth: int = 30, min_samples_leaf: int = 10, seed: int = 0) -> None:
        self.forest = RandomForestRegressor(
            n_estimators=n_estimators,
            max_depth=max_depth,
            min_samples_leaf=min_samples_leaf,
            random_state=seed,
            n_jobs=-1,
        )

    def fit(self, parameters: Mapping[str, np.ndarray], energy: np.ndarray) -> HillasRandomForest:
        """Fit on the training events' parameter columns and true energies."""
        self.forest.fit(features(parameters), np.log10(np.asarray(energy, float)))
        return self

    def predict(self, parameters: Mapping[str, np.ndarray]) -> np.ndarray:
        """Energies for events given by their parameter columns."""
        return 10.0 ** self.forest.predict(features(parameters))
