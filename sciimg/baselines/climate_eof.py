"""Reduced-space optimal interpolation: gap filling with the leading EOFs of the training years.

The method behind Kaplan et al. (1997, JGR 102, C13) and the EOF reconstructions of ERSST
(Smith et al. 2008) and, iteratively, DINEOF (Beckers and Rixen 2003): the anomaly is a
sum of the ``modes`` leading empirical orthogonal functions of complete training fields,
and the amplitudes are the Gaussian conditional mean given the observed cells,

    a = (E_o' E_o + noise * diag(lambda)^-1)^-1 E_o' (y_o - mean_o),

where ``lambda`` are the EOF variances and ``noise`` the variance each observed cell carries
beyond the kept modes (truncation error). The number of modes, ``noise`` and the time window
(1: the month alone; 3: extended EOFs of three consecutive months, the network's view) are
chosen by RMSE on the validation fields. DINEOF's iteration is what one does when the EOFs
must come from the gappy data themselves; with complete training years the amplitudes
above are the direct, exact answer for the same model.
"""

from __future__ import annotations

import logging

import numpy as np

from sciimg.io.store import SampleStore

log = logging.getLogger(__name__)


def windows(fields: np.ndarray, steps: np.ndarray, time_window: int) -> tuple[np.ndarray, np.ndarray]:
    """Each step with its neighbours: ``(N, W, ...)`` values and whether each neighbour exists in the split."""
    row_of = {int(s): r for r, s in enumerate(steps)}
    half = time_window // 2
    out = np.full((len(fields), time_window, *fields.shape[1:]), np.nan, fields.dtype)
    present = np.zeros((len(fields), time_window), bool)
    for r, step in enumerate(steps):
        for w, lag in enumerate(range(-half, half + 1)):
            neighbour = row_of.get(int(step) + lag)
            if neighbour is not None:
                out[r, w], present[r, w] = fields[neighbour], True
    return out, present


class EofReconstruction:
    """EOFs of the train fields (per time window) and the regularised fit of their amplitudes."""

    def __init__(self, max_modes: int = 1000) -> None:
        self.max_modes = max_modes
        self.bases: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # window: (mean, EOFs, variances)
        self.modes, self.noise, self.time_window = 1, 1.0, 1

    def fit_bases(self, train: SampleStore, time_windows: tuple[int, ...] = (1, 3)) -> None:
        """The EOFs of complete train anomalies, NaN (outside the domain) as 0, for each time window."""
        fields = np.nan_to_num(train.read("target")[:, 0].reshape(len(train), -1).astype(np.float64))
        steps = train.read("meta/step")
        for window in time_windows:
            stacked, present = windows(fields, steps, window)
            rows = present.all(1)  # only steps whose whole window is in the split
            matrix = stacked[rows].reshape(int(rows.sum()), -1)
            mean = matrix.mean(0)
            _, singular, patterns = np.linalg.svd(matrix - mean, full_matrices=False)
            keep = min(self.max_modes, len(singular))
            variances = singular[:keep] ** 2 / max(len(matrix) - 1, 1)
            self.bases[window] = (mean, patterns[:keep].T, variances)
        kept = {window: len(basis[2]) for window, basis in self.bases.items()}
        log.info("EOFs of %d train fields: %s modes per time window", len(fields), kept)

    def choose(self, modes: int, noise: float, time_window: int) -> EofReconstruction:
        self.modes, self.noise, self.time_window = modes, noise, time_window
        return self

    def fill(self, fields: np.ndarray, observed: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The centre month of ``fields`` ``(W, Y, X)`` with its gaps reconstructed (observed cells as given)."""
        mean, patterns, variances = self.bases[self.time_window]
        modes = min(self.modes, len(variances))
        seen = observed.ravel()
        e = patterns[seen, :modes]
        values = fields.ravel()[seen] - mean[seen]
        normal = e.T @ e + np.diag(self.noise / variances[:modes])
        amplitudes = np.linalg.solve(normal, e.T @ values)
        reconstruction = (mean + patterns[:, :modes] @ amplitudes).reshape(fields.shape)
        centre = fields.shape[0] // 2
        return np.where(observed[centre], fields[centre], reconstruction[centre])
