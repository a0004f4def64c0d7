"""Closed forms that override the generic quadrature averages (math.md §3.5).

Gaussian prior (any mean and variance); Gaussian channel; probit/sign channel. The probit
integrals are written so that they stay accurate as ``q → ρ`` (a noiseless channel's
integrands then concentrate on a vanishing scale, which a fixed Gauss–Hermite rule misses).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import erf, erfcx, log_ndtr, ndtr

from ..amp.channels import Channel, GaussianChannel, ProbitChannel
from ..amp.priors import GaussianPrior, Prior
from ..quadrature import gauss_hermite

__all__ = ["input_closed_form", "output_closed_form", "normal_expectation"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def normal_expectation(h: Any, a: np.ndarray, n_nodes: int = 96) -> np.ndarray:
    """``E[h(T)]`` for ``T ~ N(0, a²)`` (``a`` an array), for ``h`` that varies on scale one.

    Composite Gauss–Legendre on ``[-10a, 10a]`` with panel breaks at ``±20`` so that the
    structure of ``h`` near zero is resolved for every ``a`` (tiny or huge).
    """
    a = np.maximum(np.asarray(a, dtype=float), 1e-300)
    x, w = np.polynomial.legendre.leggauss(n_nodes)
    L = (10.0 * a)[..., None]
    inner = np.minimum(L, 20.0)
    total = 0.0
    panels = [(-inner, inner), (-L, -inner), (inner, L)]
    for lo, hi in panels:
        half = 0.5 * (hi - lo)
        t = 0.5 * (hi + lo) + half * x
        dens = np.exp(-0.5 * (t / a[..., None]) ** 2) / (np.sqrt(2 * np.pi) * a[..., None])
        total = total + np.sum(half * w * dens * h(t), axis=-1)
    return total


class _GaussianPriorCF:
    def __init__(self, prior: GaussianPrior) -> None:
        self.m, self.v = prior.prior_mean, prior.prior_variance
        self.rho = prior.second_moment

    def overlap(self, r: np.ndarray) -> np.ndarray:
        m, v = self.m, self.v
        return (m * m + v * r * self.rho) / (1.0 + v * r)

    def free_entropy(self, r: np.ndarray) -> np.ndarray:
        return 0.5 * r * self.rho - 0.5 * np.log1p(self.v * r)


class _GaussianChannelCF:
    def __init__(self, ch: GaussianChannel) -> None:
        self.c2, self.N = ch.scale**2, ch.noise_variance

    def _s(self, q: np.ndarray, rho: float) -> np.ndarray:
        return np.maximum(self.N + self.c2 * (rho - q), 1e-300)

    def hat(self, q: np.ndarray, rho: float) -> np.ndarray:
        return self.c2 / self._s(q, rho)

    def free_entropy(self, q: np.ndarray, rho: float, exact: bool = False) -> np.ndarray:
        s = self._s(rho if exact else q, rho)
        return -0.5 * (np.log(2 * np.pi * s) + 1.0)

    def generalization_error(self, q: np.ndarray, rho: float) -> np.ndarray:
        return self.N + self.c2 * (rho - q)


class _ProbitCF:
    """``y = sign(c z + √N ξ)``: with ``Ṽ = N + c²(ρ-q)`` and ``a = √(c² q / Ṽ)``."""

    def __init__(self, ch: ProbitChannel) -> None:
        self.c2, self.N = ch.scale**2, ch.noise_variance
        self._u, self._uw = gauss_hermite(96)

    def _a(self, q: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
        Vt = np.maximum(self.N + self.c2 * (rho - q), 1e-300)
        return Vt, np.sqrt(self.c2 * q / Vt)

    def hat(self, q: np.ndarray, rho: float) -> np.ndarray:
        # E g² = (2c²/Ṽ) E_ξ[φ(aξ)²/Φ(aξ)] = (2c²/Ṽ) (s/a)/√(2π) E_u[R(s u)],
        # s = a/√(1+a²) (the two Gaussians combined), R = φ/Φ.
        Vt, a = self._a(q, rho)
        s_over_a = 1.0 / np.sqrt(1.0 + a * a)
        s = a * s_over_a
        t = s[..., None] * self._u
        R = _SQRT_2_OVER_PI / erfcx(-t / math.sqrt(2.0))
        return (2.0 * self.c2 / Vt) * s_over_a / math.sqrt(2 * np.pi) * np.sum(self._uw * R,
                                                                                axis=-1)

    def free_entropy(self, q: np.ndarray, rho: float, exact: bool = False) -> np.ndarray:
        q = np.asarray(rho if exact else q, dtype=float)
        if exact and self.N == 0:
            return np.zeros_like(q)
        _, a = self._a(q, rho)
        # Ψ = 2 E_V[Φ(aV) ln Φ(aV)]
        return normal_expectation(lambda t: 2.0 * ndtr(t) * log_ndtr(t), a)

    def generalization_error(self, q: np.ndarray, rho: float) -> np.ndarray:
        _, a = self._a(q, rho)
        return 1.0 - normal_expectation(lambda t: erf(t / math.sqrt(2.0)) ** 2, a)

    def classification_error(self, q: np.ndarray, rho: float) -> np.ndarray:
        cos = np.sqrt(self.c2 * q / (self.c2 * rho + self.N))
        return np.arccos(np.clip(cos, 0.0, 1.0)) / np.pi


def input_closed_form(prior: Prior) -> Any:
    """The closed-form input averages for ``prior``, or ``None``."""
    return _GaussianPriorCF(prior) if isinstance(prior, GaussianPrior) else None


def output_closed_form(channel: Channel) -> Any:
    """The closed-form output averages for ``channel``, or ``None``."""
    if isinstance(channel, GaussianChannel):
        return _GaussianChannelCF(channel)
    if isinstance(channel, ProbitChannel):
        return _ProbitCF(channel)
    return None
