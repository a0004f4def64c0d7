"""The deep Gaussian equivalence: layer coefficients and the equivalent GLM (math.md §2)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.integrate import quad

from ..amp.channels import (
    Channel,
    GaussianChannel,
    GenericChannel,
    ProbitChannel,
    named_function,
)
from ..amp.priors import GaussianPrior
from .activations import resolve_activation, resolve_activations

__all__ = [
    "LayerCoefficients",
    "EquivalentGLM",
    "layer_coefficients",
    "equivalent_glm",
    "gaussian_expectation",
]


def gaussian_expectation(h: Callable[[float], float], scale: float = 1.0) -> float:
    """``E[h(scale·Z)]``, ``Z ~ N(0,1)``, by adaptive quadrature split at 0 (to ~1e-13).

    Plain Gauss–Hermite is only ~1e-8 accurate for steep functions such as tanh(2x).
    """
    def f(z: float) -> float:
        return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * h(scale * z)

    opts = {"epsabs": 1e-15, "epsrel": 1e-13, "limit": 400}
    return quad(f, -np.inf, 0.0, **opts)[0] + quad(f, 0.0, np.inf, **opts)[0]


def _scalar(fn: Callable[[Any], Any]) -> Callable[[float], float]:
    return lambda x: float(np.asarray(fn(np.asarray([x], dtype=float)))[0])


@dataclass(frozen=True)
class LayerCoefficients:
    """Per-layer coefficients of math.md §2.1 (arrays indexed by layer ℓ = 1..L).

    Attributes
    ----------
    rho : array
        ``ρ_ℓ = E φ'(Z √σ_{ℓ-1})`` (by Stein's lemma ``E[Z φ(√σ Z)]/√σ``).
    sigma : array
        ``σ_ℓ = E φ²(Z √σ_{ℓ-1})``.
    eps : array
        ``ε_ℓ = σ_ℓ - σ_{ℓ-1} ρ_ℓ²``.
    sigma0 : float
        Input variance ``σ_0``.
    activations : tuple of str
    """

    rho: np.ndarray
    sigma: np.ndarray
    eps: np.ndarray
    sigma0: float
    activations: tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.rho)

    def as_table(self) -> list[dict[str, float]]:
        """Rows ``{layer, activation, rho, sigma, eps}``."""
        return [
            {"layer": i + 1, "activation": a, "rho": float(r), "sigma": float(s), "eps": float(e)}
            for i, (a, r, s, e) in enumerate(
                zip(self.activations, self.rho, self.sigma, self.eps, strict=True))
        ]


def layer_coefficients(activation: Any, depth: int, input_variance: float = 1.0
                       ) -> LayerCoefficients:
    """Layer coefficients ``(ρ_ℓ, σ_ℓ, ε_ℓ)`` of a depth-``L`` teacher (math.md §2.1).

    Parameters
    ----------
    activation : str, callable, or list of them
        A name (``linear``, ``tanh``, ``erf``, ``sin``, ``relu``, ``sign``), any vectorised
        callable, or one per layer. Non-odd or non-C² activations warn
        (:class:`OutsideTheoremWarning`) and follow math.md §4.2's convention.
    depth : int
        Number of hidden layers ``L >= 0``.
    input_variance : float
        ``σ_0`` (1 for standard Gaussian inputs).

    Returns
    -------
    LayerCoefficients
    """
    if not (isinstance(input_variance, (int, float)) and input_variance > 0
            and math.isfinite(input_variance)):
        raise ValueError(f"input_variance must be a finite number > 0, got {input_variance!r}")
    layers = resolve_activations(activation, depth)
    given = activation if isinstance(activation, Sequence) and not isinstance(
        activation, str) else [activation] * len(layers)
    sigma_prev = float(input_variance)
    rho, sigma, eps = [], [], []
    for (_, fn), act in zip(layers, given, strict=True):
        if isinstance(act, str):  # by name: the same numbers every time, computed once
            r, s = _named_layer_moments(act, sigma_prev)
        else:
            r, s = _layer_moments(fn, sigma_prev)
        rho.append(r)
        sigma.append(s)
        eps.append(max(s - sigma_prev * r * r, 0.0))
        sigma_prev = s
    return LayerCoefficients(np.asarray(rho), np.asarray(sigma), np.asarray(eps),
                             float(input_variance), tuple(n for n, _ in layers))


def _layer_moments(fn: Callable[[Any], Any], sigma_prev: float) -> tuple[float, float]:
    """``(ρ, σ)`` of one layer with input variance ``sigma_prev`` (math.md §2.1)."""
    if fn is None:  # linear
        return 1.0, sigma_prev
    f = _scalar(fn)
    sd = math.sqrt(sigma_prev)
    s = gaussian_expectation(lambda x: f(x) ** 2, sd)
    r = gaussian_expectation(lambda x: x * f(x), sd) / sigma_prev
    return r, s


@functools.lru_cache(maxsize=256)
def _named_layer_moments(name: str, sigma_prev: float) -> tuple[float, float]:
    return _layer_moments(None if name == "linear" else named_function(name), sigma_prev)


@dataclass(frozen=True)
class EquivalentGLM:
    """The GLM equivalent to a deep teacher (math.md §2.3–2.4, [C25] Corollary 3).

    Attributes
    ----------
    eta, gamma : float
        ``η₀`` and ``γ₀``: labels are ``P_out(· | η₀ z + √γ₀ ξ)`` with ``z = a·x/√d``.
    layers : LayerCoefficients
    prior : GaussianPrior
        Standard Gaussian.
    channel : Channel
        The effective channel, ready for GAMP and state evolution.
    readout : str
    label_noise : float
    rho_out, eps_out : float
    """

    eta: float
    gamma: float
    layers: LayerCoefficients
    prior: GaussianPrior
    channel: Channel
    readout: str
    label_noise: float
    rho_out: float
    eps_out: float

    @property
    def output_variance(self) -> float:
        """``η₀² + γ₀`` (equals ``ρ_out² σ_L + ε_out``)."""
        return self.eta**2 + self.gamma

    def noise_free_channel(self) -> Channel:
        """The channel ``P_out(y | h)`` itself (no effective noise), for the MI's noise term."""
        return _make_channel(self.readout, self._readout_fn, 1.0, 0.0, self.label_noise)

    @property
    def _readout_fn(self) -> Any:
        return self.channel.function if isinstance(self.channel, GenericChannel) else None


def _make_channel(readout: str, fn: Any, eta: float, gamma: float, delta: float) -> Channel:
    if readout == "linear":
        return GaussianChannel(eta, gamma + delta)
    if readout == "sign":
        return ProbitChannel(eta, gamma + delta)
    if delta <= 0:
        raise ValueError(
            f"label_noise must be > 0 for the non-linear readout {readout!r} (the channel "
            "needs a density)"
        )
    return GenericChannel(fn, eta, gamma, delta)


def _check_number(name: str, value: Any, minimum: float, strict: bool) -> float:
    ok = isinstance(value, (int, float, np.floating)) and math.isfinite(value) and (
        value > minimum if strict else value >= minimum)
    if not ok:
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {op} {minimum}, got {value!r}")
    return float(value)


def resolve_readout(readout: Any) -> tuple[str, Any]:
    """(name, function-or-name for GenericChannel) of a readout."""
    if readout in ("linear", "sign"):
        return readout, None
    if isinstance(readout, str):
        name, _ = resolve_activation(readout, "readout")
        return name, name
    if not callable(readout):
        raise ValueError(f'readout must be "linear", "sign", a function name or a callable, '
                         f"got {readout!r}")
    name, fn = resolve_activation(readout, "readout")
    return name, fn


def equivalent_glm(
    activation: Any,
    depth: int,
    readout: Any = "linear",
    label_noise: float = 0.0,
    rho_out: float = 1.0,
    eps_out: float = 0.0,
) -> EquivalentGLM:
    """Reduce a deep random-network teacher to its equivalent GLM (math.md §2.3–2.4).

    ``η_L = ρ_out``, ``γ_L = ε_out`` and for ``k = L..1``: ``η_{k-1} = η_k ρ_k``,
    ``γ_{k-1} = η_k² ε_k + γ_k``.

    Parameters
    ----------
    activation : str, callable or list
        Hidden activation(s), as for :func:`layer_coefficients`.
    depth : int
        Number of hidden layers.
    readout : {"linear", "sign"}, str or callable
        Output function ``f``: ``"linear"`` (Gaussian channel with scale ``η₀`` and variance
        ``γ₀ + Δ``), ``"sign"`` (probit with scale ``η₀`` and variance ``γ₀ + Δ``; the label
        noise enters before the sign), or an odd function (the generic quadrature channel
        ``f(η₀ z + √γ₀ ξ) + √Δ ε``, which needs ``Δ > 0``).
    label_noise : float
        ``Δ >= 0``.
    rho_out, eps_out : float
        Readout scale and extra readout noise of [C25] eq. (1).

    Returns
    -------
    EquivalentGLM
    """
    delta = _check_number("label_noise", label_noise, 0.0, strict=False)
    rho_out = _check_number("rho_out", rho_out, 0.0, strict=True)
    eps_out = _check_number("eps_out", eps_out, 0.0, strict=False)
    name, fn = resolve_readout(readout)
    layers = layer_coefficients(activation, depth)
    eta, gamma = rho_out, eps_out
    for k in range(layers.depth - 1, -1, -1):
        gamma = eta * eta * layers.eps[k] + gamma
        eta = eta * layers.rho[k]
    channel = _make_channel(name, fn, float(eta), float(gamma), delta)
    return EquivalentGLM(float(eta), float(gamma), layers, GaussianPrior(), channel, name, delta,
                         rho_out, eps_out)
