"""The floor of gap filling on simulated fields: the exact conditional mean given the simulator's statistics.

The simulated anomaly is linear in Gaussian coefficients, ``x_t = sum_k M_k z_k,t`` with each
``z_k`` an AR(1) series of N(0, 1) vectors (:meth:`ClimateSimulator.components`), and the
climatology plus trend is deterministic. Knowing all of that (not the month's draws), the
best possible estimate of the gaps in the mean-square sense is the posterior mean of the
coefficients of the month and its neighbours given every observed cell of the window, mapped
back to the gaps: no method, classical or learned, that sees the same months (the network's
window, kriging's and the EOFs' at most) can do better on average. It is shown beside the
methods, never as one of them.

The store's anomalies are relative to the train split's climatology, so the known deterministic
offset ``climatology + trend - store climatology`` is added back; observations are exact up to
float32 rounding (a 1e-4 K^2 nugget keeps the system well conditioned).
"""

from __future__ import annotations

import numpy as np

from sciimg.errors import ConfigError
from sciimg.io.store import SampleStore
from sciimg.simulate.climate import simulator_of

NUGGET_K2 = 1e-4


class SimulatorFloor:
    """Posterior mean of the simulator's coefficients over a time window (see the module docstring)."""

    def __init__(self, time_window: int = 3) -> None:
        self.time_window = time_window
        self.maps: np.ndarray | None = None  # (cells, F): every component side by side
        self.prior_precision: np.ndarray | None = None  # (W F, W F)

    def fit(self, store: SampleStore) -> SimulatorFloor:
        """Rebuild the simulator that wrote ``store``'s source file."""
        parameters = store.attrs.get("simulation")
        if parameters is None:
            raise ConfigError(f"{store.path}: the floor needs a store ingested from one file sciimg simulated")
        if parameters["options"].get("events_per_month", 0) > 0:
            raise ConfigError(f"{store.path}: the floor is exact for Gaussian fields; this one has weather events")
        self.simulator = simulator_of(parameters)
        extra = store.extra()
        if not (np.allclose(extra["lat"], self.simulator.lat) and np.allclose(extra["lon"], self.simulator.lon)):
            raise ConfigError(f"{store.path}: its grid is not the grid of the simulation it records")
        self.store_climatology = extra["climatology"].astype(np.float64)
        components = self.simulator.components()
        self.maps = np.concatenate([m for m, _ in components], axis=1)
        rho = np.concatenate([np.full(m.shape[1], r) for m, r in components])
        lags = np.arange(self.time_window)
        # Cov(z_s, z_t) = rho^|s - t| per coefficient: a (W, W) Toeplitz block for each of the F coefficients
        prior = rho[None, None, :] ** np.abs(lags[:, None] - lags[None, :])[:, :, None]
        f = len(rho)
        covariance = np.zeros((self.time_window * f, self.time_window * f))
        for s in lags:
            for t in lags:
                covariance[s * f : (s + 1) * f, t * f : (t + 1) * f] = np.diag(prior[s, t])
        self.prior_precision = np.linalg.inv(covariance)
        return self

    def offset(self, step: int, month: int) -> np.ndarray:
        """Known deterministic part of a store anomaly: the simulator's climatology and trend minus the store's."""
        return (self.simulator.mean_field(step) - self.store_climatology[month - 1]).ravel()

    def fill(self, fields: np.ndarray, observed: np.ndarray, step: int, month: int) -> np.ndarray:
        """The centre month of ``fields`` ``(W, Y, X)`` filled; ``step`` (file month index) and calendar
        ``month`` are the centre's."""
        f, centre = self.maps.shape[1], self.time_window // 2
        normal = self.prior_precision.copy()
        right = np.zeros(self.time_window * f)
        for w in range(self.time_window):
            seen = observed[w].ravel()
            if not seen.any():
                continue
            lag = w - centre
            known = self.offset(step + lag, (month - 1 + lag) % 12 + 1)
            rows = self.maps[seen]
            block = slice(w * f, (w + 1) * f)
            normal[block, block] += rows.T @ rows / NUGGET_K2
            right[block] += rows.T @ (fields[w].ravel()[seen] - known[seen]) / NUGGET_K2
        coefficients = np.linalg.solve(normal, right)
        estimate = self.maps @ coefficients[centre * f : (centre + 1) * f] + self.offset(step, month)
        return np.where(observed[centre], fields[centre], estimate.reshape(fields.shape[1:]))
