"""Output channels ``P_out(y | z)`` with ``z = x·w/√d``: the output side of GAMP and state
evolution (math.md §3.2, §3.5).

Every channel implements one contract, used unchanged by GAMP and by state evolution:

* ``log_partition(y, omega, V)``: ``ln Z_out = ln ∫ Dζ P_out(y | ω + √V ζ)``;
* ``output(y, omega, V) -> (g, dg)``: ``g_out = ∂_ω ln Z_out`` and ``∂_ω g_out``;
* ``predictive(omega, V, n_nodes) -> (y_nodes, weights)``: the predictive law of ``y`` given
  ``(ω, V)`` as points and weights on a trailing axis (exact sums for ±1 labels, Gauss–Hermite
  for continuous labels); state evolution averages over it;
* ``predict(omega, V)``: the Bayes prediction ``E[y | ω, V]`` (for ±1 channels ``2p - 1``, with
  ``predict_proba`` giving ``p = P(y = +1)``), ``predict_variance``;
* ``sample(z, rng)``: labels given pre-activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..backend import erf, erfcx, log_ndtr, namespace, ndtr
from ..quadrature import gauss_hermite

__all__ = [
    "Channel",
    "GaussianChannel",
    "ProbitChannel",
    "GenericChannel",
    "named_function",
]

_TINY = 1e-300
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_LOG_2PI = math.log(2.0 * math.pi)


def _last_axis(xp: Any, a: Any) -> Any:
    """Add a trailing axis to an array (scalars are returned unchanged)."""
    if isinstance(a, (int, float)) or getattr(a, "ndim", 0) == 0:
        return a
    return xp.expand_dims(a, axis=-1)


def _nodes(xp: Any, n: int, like: Any) -> tuple[Any, Any]:
    x, w = gauss_hermite(n)
    dt = getattr(like, "dtype", None)
    dt = xp.float32 if dt == xp.float32 else xp.float64
    return xp.asarray(x, dtype=dt), xp.asarray(w, dtype=dt)


def _noise(rng: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    if rng is None or isinstance(rng, (int, np.integer)):
        rng = np.random.default_rng(rng)
    return rng.standard_normal(shape, dtype=dtype)


class Channel:
    """Base class of the channel contract (see the module docstring)."""

    #: labels are ±1 (sign-type channels)
    binary: bool = False

    def log_partition(self, y: Any, omega: Any, V: Any) -> Any:
        """``ln Z_out(y, ω, V)`` (math.md §3.2)."""
        raise NotImplementedError

    def output(self, y: Any, omega: Any, V: Any) -> tuple[Any, Any]:
        """``g_out(y, ω, V) = ∂_ω ln Z_out`` and ``∂_ω g_out`` (math.md §3.2, §3.4).

        Parameters
        ----------
        y, omega : arrays
            Labels and GAMP's mean estimate of the pre-activations.
        V : float or array
            Variance of the pre-activations around ``omega`` (> 0).

        Returns
        -------
        g, dg : arrays shaped like ``omega``
        """
        raise NotImplementedError

    def predictive(self, omega: Any, V: Any, n_nodes: int = 32) -> tuple[Any, Any]:
        """Points and weights (on a new trailing axis) of the law of ``y`` given ``(ω, V)``."""
        raise NotImplementedError

    def predict(self, omega: Any, V: Any) -> Any:
        """Bayes-optimal prediction ``E[y | ω, V]`` (math.md §1.1 eq. (6))."""
        raise NotImplementedError

    def log_partition_sum(self, y: Any, omega: Any, V: Any) -> float:
        """``Σ ln Z_out(y, ω, V)`` over all entries, accumulated in float64."""
        xp = namespace(y, omega)
        lz = self.log_partition(y, omega, V)
        return float(xp.sum(xp.astype(lz, xp.float64)))

    def predict_variance(self, omega: Any, V: Any, n_nodes: int = 32) -> Any:
        """``Var[y | ω, V]``, from the predictive law."""
        xp = namespace(omega)
        ys, ws = self.predictive(omega, V, n_nodes)
        mean = xp.sum(ws * ys, axis=-1)
        return xp.maximum(xp.sum(ws * ys * ys, axis=-1) - mean * mean, 0.0)

    def sample(self, z: Any, rng: Any = None) -> Any:
        """Labels ``y ~ P_out(· | z)`` for pre-activations ``z``."""
        raise NotImplementedError

    def validate_labels(self, y: Any) -> None:
        """Raise ``ValueError`` if ``y`` is not a valid label vector for this channel."""

    def with_params(self, **params: Any) -> Channel:
        """A copy with some parameters replaced."""
        return replace(self, **params)


def _check_nonneg(name: str, value: Any) -> float:
    if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_scale(value: Any) -> float:
    if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value == 0:
        raise ValueError(f"scale must be a finite non-zero number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class GaussianChannel(Channel):
    """``y = c·z + √N·ξ`` (math.md §3.5(a)).

    Parameters
    ----------
    scale : float
        The gain ``c`` (for the deep-equivalent GLM, ``η₀``).
    noise_variance : float
        ``N >= 0`` (for the deep-equivalent GLM, ``γ₀ + Δ``).
    """

    scale: float = 1.0
    noise_variance: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _check_scale(self.scale))
        object.__setattr__(self, "noise_variance", _check_nonneg("noise_variance",
                                                                 self.noise_variance))

    def _total(self, xp: Any, V: Any) -> Any:
        c = self.scale
        s = self.noise_variance + c * c * V
        return xp.maximum(s, _TINY) if not isinstance(s, float) else max(s, _TINY)

    def log_partition(self, y: Any, omega: Any, V: Any) -> Any:
        xp = namespace(y, omega, V)
        s = self._total(xp, V)
        r = y - self.scale * omega
        return -0.5 * (_LOG_2PI + xp.log(s * xp.ones_like(r))) - r * r / (2.0 * s)

    def output(self, y: Any, omega: Any, V: Any) -> tuple[Any, Any]:
        xp = namespace(y, omega, V)
        c = self.scale
        s = self._total(xp, V)
        g = (y - c * omega) * (c / s)
        if isinstance(s, float):
            return g, xp.full(g.shape, -c * c / s, dtype=g.dtype)
        return g, (-c * c / s) * xp.ones_like(g)

    def log_partition_sum(self, y: Any, omega: Any, V: Any) -> float:
        """``Σ ln Z_out`` over all samples, in float64 (faster than summing the vector)."""
        if not isinstance(V, float) or getattr(y, "ndim", 1) != 1:
            return super().log_partition_sum(y, omega, V)
        r = y - self.scale * omega
        s = self._total(None, V)
        return -0.5 * y.shape[0] * (_LOG_2PI + math.log(s)) - float(r @ r) / (2.0 * s)

    def predictive(self, omega: Any, V: Any, n_nodes: int = 32) -> tuple[Any, Any]:
        xp = namespace(omega, V)
        u, w = _nodes(xp, n_nodes, omega)
        sd = xp.sqrt(self._total(xp, V) * xp.ones_like(omega))
        ys = _last_axis(xp, self.scale * omega) + _last_axis(xp, sd) * u
        return ys, w * xp.ones_like(ys)

    def predict(self, omega: Any, V: Any) -> Any:
        return self.scale * omega

    def predict_variance(self, omega: Any, V: Any, n_nodes: int = 32) -> Any:
        xp = namespace(omega, V)
        return self._total(xp, V) * xp.ones_like(omega)

    def sample(self, z: Any, rng: Any = None) -> Any:
        return self.scale * z + math.sqrt(self.noise_variance) * _noise(rng, z.shape, z.dtype)


@dataclass(frozen=True)
class ProbitChannel(Channel):
    """``y = sign(c·z + √N·ξ)``, with ``N = 0`` the noiseless sign channel (math.md §3.5(b)).

    Computed with ``erfcx`` and ``log_ndtr`` so that no input underflows to NaN.

    Parameters
    ----------
    scale : float
        The gain ``c`` (for the deep-equivalent GLM, ``η₀``).
    noise_variance : float
        The probit variance ``N >= 0`` (for the deep-equivalent GLM, ``γ₀ + Δ``).
    """

    scale: float = 1.0
    noise_variance: float = 0.0
    binary: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", _check_scale(self.scale))
        object.__setattr__(self, "noise_variance", _check_nonneg("noise_variance",
                                                                 self.noise_variance))

    def _sd(self, xp: Any, V: Any) -> Any:
        c = self.scale
        s = self.noise_variance + c * c * V
        if isinstance(s, float):
            return math.sqrt(max(s, 1e-24))
        return xp.sqrt(xp.maximum(s, 1e-24))

    def log_partition(self, y: Any, omega: Any, V: Any) -> Any:
        xp = namespace(y, omega, V)
        return log_ndtr(y * self.scale * omega / self._sd(xp, V))

    def output(self, y: Any, omega: Any, V: Any) -> tuple[Any, Any]:
        xp = namespace(y, omega, V)
        c = self.scale
        sd = self._sd(xp, V)
        u = y * c * omega / sd
        # R(u) = φ(u)/Φ(u) = √(2/π) / erfcx(-u/√2): finite for every finite u.
        R = _SQRT_2_OVER_PI / erfcx(-u / math.sqrt(2.0))
        g = y * c * R / sd
        # R(u + R) is the variance reduction of a truncated normal, in (0, 1).
        dg = -(c * c / (sd * sd)) * xp.minimum(xp.maximum(R * (u + R), 0.0), 1.0)
        return g, dg

    def predict_proba(self, omega: Any, V: Any) -> Any:
        """``P(y = +1 | ω, V) = Φ(c ω / √(N + c² V))``."""
        xp = namespace(omega, V)
        return ndtr(self.scale * omega / self._sd(xp, V))

    def predictive(self, omega: Any, V: Any, n_nodes: int = 32) -> tuple[Any, Any]:
        xp = namespace(omega, V)
        p = self.predict_proba(omega, V)
        ys = xp.stack([xp.ones_like(p), -xp.ones_like(p)], axis=-1)
        ws = xp.stack([p, 1.0 - p], axis=-1)
        return ys, ws

    def predict(self, omega: Any, V: Any) -> Any:
        xp = namespace(omega, V)
        return erf(self.scale * omega / (math.sqrt(2.0) * self._sd(xp, V)))

    def sample(self, z: Any, rng: Any = None) -> Any:
        xp = namespace(z)
        h = self.scale * z
        if self.noise_variance > 0:
            h = h + math.sqrt(self.noise_variance) * _noise(rng, z.shape, z.dtype)
        one = xp.ones_like(h)
        return xp.where(h >= 0, one, -one)

    def validate_labels(self, y: Any) -> None:
        xp = namespace(y)
        if not bool(xp.all((y == 1.0) | (y == -1.0))):
            raise ValueError("labels y must be -1 or +1 for a sign/probit channel")


def _sign(x: Any) -> Any:
    """sign with sign(0) = +1."""
    xp = namespace(x)
    one = xp.ones_like(x)
    return xp.where(x >= 0, one, -one)


def named_function(name: str) -> Callable[[Any], Any]:
    """Vectorised, array-namespace-agnostic readout/activation by name.

    Known names: ``linear``, ``tanh``, ``erf``, ``sin``, ``sign``, ``relu``.
    """
    table: dict[str, Callable[[Any], Any]] = {
        "linear": lambda x: x,
        "tanh": lambda x: namespace(x).tanh(x),
        "erf": erf,
        "sin": lambda x: namespace(x).sin(x),
        "sign": _sign,
        "relu": lambda x: namespace(x).maximum(x, 0.0),
    }
    if name not in table:
        raise ValueError(f"unknown function name {name!r}; known names: {sorted(table)}")
    return table[name]


@dataclass(frozen=True)
class GenericChannel(Channel):
    """``y = f(c·z + √N_in·ξ) + √Δ·ε`` for any vectorised ``f``, by Gauss–Hermite quadrature
    (math.md §3.5(c)). This is the effective channel of a deep teacher with an odd readout.

    With ``S² = c²V + N_in`` and ``u ~ N(0, 1)``,
    ``Z_out = E_u N(y; f(cω + S u), Δ)``; by Stein's lemma
    ``g_out = (c/S) E[u | y]`` and ``∂_ω g_out = (c/S)² (Var[u | y] - 1)``, so ``f`` needs no
    derivative.

    Parameters
    ----------
    function : callable or str
        The readout ``f`` (applied elementwise to arrays of the input's namespace) or a name
        accepted by :func:`named_function`.
    scale : float
        The gain ``c``.
    inner_variance : float
        ``N_in >= 0``, Gaussian noise before ``f`` (for the deep-equivalent GLM, ``γ₀``).
    noise_variance : float
        ``Δ > 0``, Gaussian label noise after ``f``.
    n_nodes : int
        Gauss–Hermite nodes of the inner integral.
    """

    function: Callable[[Any], Any] | str = "tanh"
    scale: float = 1.0
    inner_variance: float = 0.0
    noise_variance: float = 0.1
    n_nodes: int = 64

    def __post_init__(self) -> None:
        if isinstance(self.function, str):
            named_function(self.function)
        elif not callable(self.function):
            raise ValueError(f"function must be callable or a known name, got {self.function!r}")
        object.__setattr__(self, "scale", _check_scale(self.scale))
        object.__setattr__(self, "inner_variance", _check_nonneg("inner_variance",
                                                                 self.inner_variance))
        delta = _check_nonneg("noise_variance", self.noise_variance)
        if delta <= 0:
            raise ValueError("noise_variance (the label noise Δ) must be > 0 for GenericChannel")
        object.__setattr__(self, "noise_variance", delta)
        if not isinstance(self.n_nodes, (int, np.integer)) or self.n_nodes < 2:
            raise ValueError(f"n_nodes must be an integer >= 2, got {self.n_nodes!r}")

    @property
    def f(self) -> Callable[[Any], Any]:
        """The readout function."""
        fn = self.function
        return named_function(fn) if isinstance(fn, str) else fn

    def _S(self, xp: Any, V: Any) -> Any:
        s = self.scale * self.scale * V + self.inner_variance
        if isinstance(s, float):
            return math.sqrt(max(s, 1e-24))
        return xp.sqrt(xp.maximum(s, 1e-24))

    def _posterior(self, y: Any, omega: Any, V: Any) -> tuple[Any, Any, Any, Any, Any]:
        """Log-weights over the inner nodes u_k given y, and their normaliser."""
        xp = namespace(y, omega, V)
        u, w = _nodes(xp, self.n_nodes, omega)
        S = self._S(xp, V)
        f_k = self.f(_last_axis(xp, self.scale * omega) + _last_axis(xp, S) * u)
        r = _last_axis(xp, y) - f_k
        logit = xp.log(w) - r * r / (2.0 * self.noise_variance)
        top = xp.max(logit, axis=-1, keepdims=True)
        p = xp.exp(logit - top)
        norm = xp.sum(p, axis=-1)
        return xp, u, S, p / _last_axis(xp, norm), top[..., 0] + xp.log(norm)

    def log_partition(self, y: Any, omega: Any, V: Any) -> Any:
        lz = self._posterior(y, omega, V)[4]
        return lz - 0.5 * (_LOG_2PI + math.log(self.noise_variance))

    def output(self, y: Any, omega: Any, V: Any) -> tuple[Any, Any]:
        xp, u, S, p, _ = self._posterior(y, omega, V)
        m1 = xp.sum(p * u, axis=-1)
        var_u = xp.maximum(xp.sum(p * u * u, axis=-1) - m1 * m1, 0.0)
        k = self.scale / S
        return k * m1, k * k * (var_u - 1.0)

    def predictive(self, omega: Any, V: Any, n_nodes: int = 24) -> tuple[Any, Any]:
        xp = namespace(omega, V)
        t, wt = _nodes(xp, n_nodes, omega)
        e, we = _nodes(xp, max(n_nodes // 2, 2), omega)
        S = self._S(xp, V)
        f_t = self.f(_last_axis(xp, self.scale * omega) + _last_axis(xp, S) * t)
        ys = _last_axis(xp, f_t) + math.sqrt(self.noise_variance) * e
        ws = _last_axis(xp, wt) * we
        shape = ys.shape[:-2] + (ys.shape[-2] * ys.shape[-1],)
        return xp.reshape(ys, shape), xp.reshape(ws * xp.ones_like(ys), shape)

    def predict(self, omega: Any, V: Any) -> Any:
        xp = namespace(omega, V)
        u, w = _nodes(xp, self.n_nodes, omega)
        S = self._S(xp, V)
        f_k = self.f(_last_axis(xp, self.scale * omega) + _last_axis(xp, S) * u)
        return xp.sum(w * f_k, axis=-1)

    def sample(self, z: Any, rng: Any = None) -> Any:
        h = self.scale * z
        if self.inner_variance > 0:
            h = h + math.sqrt(self.inner_variance) * _noise(rng, z.shape, z.dtype)
        return self.f(h) + math.sqrt(self.noise_variance) * _noise(rng, z.shape, z.dtype)
