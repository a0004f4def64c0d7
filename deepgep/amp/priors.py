"""Priors on the weights: the input side of GAMP and state evolution (math.md §3.2, §3.5).

Every prior implements one contract, used unchanged by GAMP (vectorised denoisers) and by
state evolution (the same functions averaged over the scalar channel):

* ``denoise(A, B) -> (mean, var)``: posterior mean and variance of ``w`` under
  ``P0(w) exp(-A w²/2 + B w)``, i.e. ``f_in`` and ``∂_B f_in``;
* ``log_partition(A, B)``: ``ln ∫ dP0(w) exp(-A w²/2 + B w)``;
* ``atoms(n)``: points and weights representing ``P0`` for expectations (exact for discrete
  parts, Gauss–Hermite for Gaussian parts);
* ``second_moment``, ``mean``, ``variance`` and ``sample(size, rng)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import expit, namespace
from ..quadrature import gauss_hermite

__all__ = [
    "Prior",
    "GaussianPrior",
    "GaussianMixturePrior",
    "BernoulliGaussianPrior",
    "BinaryPrior",
    "make_prior",
]

_VAR_FLOOR = 1e-300


def _gauss_terms(xp: Any, A: Any, B: Any, m: float, v: float) -> tuple[Any, Any, Any]:
    """log Z, mean and variance of a N(m, v) prior tilted by exp(-A w²/2 + B w).

    ``ln Z = -½ ln(1+vA) + (2mB + vB² - m²A) / (2(1+vA))``, valid also for ``v = 0``.
    """
    one_plus = 1.0 + v * A
    log_det = math.log(one_plus) if isinstance(one_plus, float) else xp.log(one_plus)
    log_z = -0.5 * log_det + (2.0 * m * B + v * B * B - m * m * A) / (2.0 * one_plus)
    mean = (m + v * B) / one_plus
    var = (v / one_plus) * xp.ones_like(mean)
    return log_z, mean, var


def _as_float_arrays(A: Any, B: Any) -> tuple[Any, Any, Any]:
    xp = namespace(A, B)
    if isinstance(B, (int, float)):
        B = xp.asarray(B, dtype=xp.float64)
    return xp, A, B


class Prior:
    """Base class of the prior contract (see the module docstring)."""

    def denoise(self, A: Any, B: Any) -> tuple[Any, Any]:
        """Posterior mean ``f_in(A, B)`` and variance ``∂_B f_in(A, B)`` (math.md §3.2).

        Parameters
        ----------
        A : float or array
            Precision of the Gaussian likelihood (``A >= 0``); a scalar or broadcastable to B.
        B : array
            Linear natural parameter.

        Returns
        -------
        mean, var : arrays shaped like ``B``
        """
        raise NotImplementedError

    def log_partition(self, A: Any, B: Any) -> Any:
        """``ln ∫ dP0(w) exp(-A w²/2 + B w)``, the input log-partition (math.md §3.2)."""
        raise NotImplementedError

    def atoms(self, n_nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Points and weights with ``sum(weights * h(points)) ≈ E_{P0} h(w)``."""
        raise NotImplementedError

    def sample(self, size: Any, rng: Any = None) -> np.ndarray:
        """Draw i.i.d. weights from the prior (a NumPy array)."""
        raise NotImplementedError

    @property
    def mean(self) -> float:
        """E[w]."""
        pts, wts = self.atoms()
        return float(np.sum(wts * pts))

    @property
    def second_moment(self) -> float:
        """ρ_w = E[w²]."""
        pts, wts = self.atoms()
        return float(np.sum(wts * pts * pts))

    @property
    def variance(self) -> float:
        """Var[w]."""
        return self.second_moment - self.mean**2

    @property
    def log_concave(self) -> bool:
        """Whether the prior is log-concave (then the posterior mean is monotone in B)."""
        return False


@dataclass(frozen=True)
class GaussianPrior(Prior):
    """Gaussian prior ``N(mean, variance)`` (math.md §3.5).

    Parameters
    ----------
    prior_mean : float
        Mean of the weights.
    prior_variance : float
        Variance of the weights, > 0.
    """

    prior_mean: float = 0.0
    prior_variance: float = 1.0

    def __post_init__(self) -> None:
        _check_finite("prior_mean", self.prior_mean)
        _check_positive("prior_variance", self.prior_variance)

    def denoise(self, A: Any, B: Any) -> tuple[Any, Any]:
        xp, A, B = _as_float_arrays(A, B)
        m, v = self.prior_mean, self.prior_variance
        one_plus = 1.0 + v * A
        mean = (m + v * B) / one_plus if m else B * (v / one_plus)
        var = v / one_plus
        if isinstance(var, float):
            return mean, xp.full(mean.shape, var, dtype=mean.dtype)
        return mean, var * xp.ones_like(mean)

    def log_partition(self, A: Any, B: Any) -> Any:
        xp, A, B = _as_float_arrays(A, B)
        return _gauss_terms(xp, A, B, self.prior_mean, self.prior_variance)[0]

    def atoms(self, n_nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
        x, w = gauss_hermite(n_nodes)
        return self.prior_mean + math.sqrt(self.prior_variance) * x, w.copy()

    def sample(self, size: Any, rng: Any = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        return self.prior_mean + math.sqrt(self.prior_variance) * rng.standard_normal(size)

    @property
    def mean(self) -> float:
        return float(self.prior_mean)

    @property
    def second_moment(self) -> float:
        return float(self.prior_variance + self.prior_mean**2)

    @property
    def log_concave(self) -> bool:
        return True


@dataclass(frozen=True)
class GaussianMixturePrior(Prior):
    """Mixture of Gaussians ``Σ_k π_k N(m_k, v_k)``; a component with ``v_k = 0`` is a point mass.

    Parameters
    ----------
    weights, means, variances : sequences of float
        Mixture weights (non-negative, summing to one), component means and variances (>= 0).
    """

    weights: tuple[float, ...] = (0.5, 0.5)
    means: tuple[float, ...] = (-1.0, 1.0)
    variances: tuple[float, ...] = (0.1, 0.1)
    _log_w: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        w = tuple(float(x) for x in np.atleast_1d(np.asarray(self.weights, dtype=float)))
        m = tuple(float(x) for x in np.atleast_1d(np.asarray(self.means, dtype=float)))
        v = tuple(float(x) for x in np.atleast_1d(np.asarray(self.variances, dtype=float)))
        if not (len(w) == len(m) == len(v)) or len(w) == 0:
            raise ValueError(
                "weights, means and variances must have the same non-zero length, got "
                f"{len(w)}, {len(m)}, {len(v)}"
            )
        if any(not math.isfinite(x) or x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-8:
            raise ValueError(f"weights must be non-negative and sum to 1, got {w}")
        if any(not math.isfinite(x) for x in m):
            raise ValueError(f"means must be finite, got {m}")
        if any(not math.isfinite(x) or x < 0 for x in v):
            raise ValueError(f"variances must be finite and >= 0, got {v}")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "variances", v)
        log_w = tuple(math.log(x) if x > 0 else -math.inf for x in w)
        object.__setattr__(self, "_log_w", log_w)

    def _components(self, A: Any, B: Any) -> tuple[Any, list[Any], list[Any], list[Any]]:
        xp, A, B = _as_float_arrays(A, B)
        logs, means, variances = [], [], []
        for lw, m, v in zip(self._log_w, self.means, self.variances, strict=True):
            if lw == -math.inf:
                continue
            log_z, mean, var = _gauss_terms(xp, A, B, m, v)
            logs.append(lw + log_z)
            means.append(mean)
            variances.append(var)
        return xp, logs, means, variances

    def log_partition(self, A: Any, B: Any) -> Any:
        xp, logs, _, _ = self._components(A, B)
        top = logs[0]
        for t in logs[1:]:
            top = xp.maximum(top, t)
        acc = sum(xp.exp(t - top) for t in logs)
        return top + xp.log(acc)

    def denoise(self, A: Any, B: Any) -> tuple[Any, Any]:
        xp, logs, means, variances = self._components(A, B)
        if len(logs) == 2:
            # Two components: responsibility by a stable sigmoid of the log-odds.
            r1 = expit(logs[1] - logs[0])
            r0 = 1.0 - r1
            mean = r0 * means[0] + r1 * means[1]
            diff = means[1] - means[0]
            var = r0 * variances[0] + r1 * variances[1] + r0 * r1 * diff * diff
            return mean, xp.maximum(var, _VAR_FLOOR)
        top = logs[0]
        for t in logs[1:]:
            top = xp.maximum(top, t)
        resp = [xp.exp(t - top) for t in logs]
        total = sum(resp)
        resp = [r / total for r in resp]
        mean = sum(r * m for r, m in zip(resp, means, strict=True))
        var = sum(
            r * (v + (m - mean) ** 2) for r, m, v in zip(resp, means, variances, strict=True)
        )
        return mean, xp.maximum(var, _VAR_FLOOR)

    def atoms(self, n_nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
        x, w = gauss_hermite(n_nodes)
        pts, wts = [], []
        for pk, m, v in zip(self.weights, self.means, self.variances, strict=True):
            if pk == 0:
                continue
            if v == 0:
                pts.append(np.array([m]))
                wts.append(np.array([pk]))
            else:
                pts.append(m + math.sqrt(v) * x)
                wts.append(pk * w)
        return np.concatenate(pts), np.concatenate(wts)

    def sample(self, size: Any, rng: Any = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        comp = rng.choice(len(self.weights), size=size, p=np.asarray(self.weights))
        m = np.asarray(self.means)[comp]
        s = np.sqrt(np.asarray(self.variances))[comp]
        return m + s * rng.standard_normal(size)

    @property
    def mean(self) -> float:
        return float(sum(p * m for p, m in zip(self.weights, self.means, strict=True)))

    @property
    def second_moment(self) -> float:
        return float(
            sum(
                p * (v + m * m)
                for p, m, v in zip(self.weights, self.means, self.variances, strict=True)
            )
        )


def BernoulliGaussianPrior(
    sparsity: float = 0.1, mean: float = 0.0, variance: float = 1.0
) -> GaussianMixturePrior:
    """Bernoulli–Gaussian prior ``(1-ρ) δ_0 + ρ N(mean, variance)``.

    Parameters
    ----------
    sparsity : float
        ρ in (0, 1], the fraction of non-zero weights.
    mean, variance : float
        Mean and variance (> 0) of the non-zero weights.

    Returns
    -------
    GaussianMixturePrior
        A two-component mixture whose first component is the point mass at zero.
    """
    if not (isinstance(sparsity, (int, float)) and 0.0 < sparsity <= 1.0):
        raise ValueError(f"sparsity must be in (0, 1], got {sparsity!r}")
    _check_positive("variance", variance)
    return GaussianMixturePrior(
        weights=(1.0 - sparsity, sparsity), means=(0.0, mean), variances=(0.0, variance)
    )


@dataclass(frozen=True)
class BinaryPrior(Prior):
    """Rademacher prior: ``w = ±1`` with probability 1/2 each."""

    def denoise(self, A: Any, B: Any) -> tuple[Any, Any]:
        xp, A, B = _as_float_arrays(A, B)
        mean = xp.tanh(B)
        var = xp.maximum(1.0 - mean * mean, _VAR_FLOOR)
        return mean, var

    def log_partition(self, A: Any, B: Any) -> Any:
        xp, A, B = _as_float_arrays(A, B)
        b = xp.abs(B)
        return -0.5 * A + b + xp.log1p(xp.exp(-2.0 * b)) - math.log(2.0)

    def atoms(self, n_nodes: int = 64) -> tuple[np.ndarray, np.ndarray]:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])

    def sample(self, size: Any, rng: Any = None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        return rng.choice(np.array([-1.0, 1.0]), size=size)

    @property
    def mean(self) -> float:
        return 0.0

    @property
    def second_moment(self) -> float:
        return 1.0


def make_prior(prior: Any) -> Prior:
    """A prior object from a name (``"gaussian"``, ``"bernoulli-gaussian"``, ``"binary"``,
    ``"gaussian-mixture"``) or a prior object (returned unchanged)."""
    if isinstance(prior, Prior):
        return prior
    names = {
        "gaussian": GaussianPrior,
        "bernoulli-gaussian": BernoulliGaussianPrior,
        "binary": BinaryPrior,
        "gaussian-mixture": GaussianMixturePrior,
    }
    if isinstance(prior, str) and prior.lower() in names:
        return names[prior.lower()]()
    raise ValueError(f"prior must be one of {sorted(names)} or a Prior object, got {prior!r}")


def _check_finite(name: str, value: Any) -> None:
    if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if not isinstance(value, (int, float, np.floating)) or not (value > 0) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
