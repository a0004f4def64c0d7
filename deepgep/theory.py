"""The headline theory result: Bayes-optimal errors and mutual information of a deep random
network teacher, through its equivalent GLM (math.md §2.4, §3.6)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .equivalence import EquivalentGLM, equivalent_glm
from .state_evolution import OutputAverages, curve

__all__ = ["BayesOptimalResult", "bayes_optimal", "effective_noise_information"]


@dataclass(frozen=True)
class BayesOptimalResult:
    """Bayes-optimal theory of a deep teacher against ``α = n/d0`` (arrays over ``alpha``).

    Attributes
    ----------
    alpha : array
    eta, gamma : float
        ``η₀`` and ``γ₀`` of the equivalent GLM.
    q : array
        Overlap of the equivalent GLM's fixed point.
    generalization_error : array
        ``E(Y_new - Ŷ_new)²`` on noisy labels ([C25] Theorem 4: equal to the deep model's).
    classification_error : array or None
        ``P(sign Ŷ ≠ Y)`` for the sign readout.
    mutual_information : array
        Deep model's ``I(θ*; D)/n`` per sample: ``glm_mutual_information/α`` plus the
        effective-noise term (math.md §2.4 item 1); ``inf`` for a noiseless linear readout.
    glm_mutual_information : array
        ``I(a*; D0)/d0`` of the equivalent GLM (per dimension).
    noise_information : float
        The effective-noise term ``I(ξ; Y | z)`` per sample.
    glm : EquivalentGLM
    """

    alpha: np.ndarray
    eta: float
    gamma: float
    q: np.ndarray
    generalization_error: np.ndarray
    classification_error: np.ndarray | None
    mutual_information: np.ndarray
    glm_mutual_information: np.ndarray
    noise_information: float
    glm: EquivalentGLM


def effective_noise_information(glm: EquivalentGLM) -> float:
    """``I(ξ; Y | z) = E ln P_out(Y | η₀z + √γ₀ξ) - E ln P̃_out(Y | z)`` per sample.

    Both terms are ``Ψ_out(ρ; ρ)`` of the state-evolution averages: of the bare channel at
    pre-activation variance ``η₀² + γ₀``, and of the effective channel at ``ρ = 1``. For the
    linear readout this is ``½ ln(1 + γ₀/Δ)``; for the sign readout the binary-entropy analogue.
    """
    if glm.readout == "linear" and glm.label_noise == 0:
        return 0.0 if glm.gamma == 0 else math.inf
    bare = OutputAverages(glm.noise_free_channel(), glm.output_variance).full_information()
    eff = OutputAverages(glm.channel, 1.0).full_information()
    return max(bare - eff, 0.0)


def bayes_optimal(
    activation: Any,
    depth: int,
    alpha: Any,
    readout: Any = "linear",
    label_noise: float = 0.0,
    rho_out: float = 1.0,
    eps_out: float = 0.0,
    **se_options: Any,
) -> BayesOptimalResult:
    """Bayes-optimal generalization error and mutual information of a deep random-network
    teacher in the proportional regime (math.md §3.6), vectorised over ``alpha``.

    Parameters
    ----------
    activation : str, callable or list
        Hidden activation(s) (see :func:`deepgep.equivalence.layer_coefficients`).
    depth : int
        Number of hidden layers.
    alpha : float or array
        ``n / d0``.
    readout : {"linear", "sign"}, str or callable
    label_noise : float
        ``Δ``.
    rho_out, eps_out : float
    **se_options
        Passed to :func:`deepgep.state_evolution.curve`.

    Returns
    -------
    BayesOptimalResult
    """
    glm = equivalent_glm(activation, depth, readout, label_noise, rho_out, eps_out)
    alphas = np.atleast_1d(np.asarray(alpha, dtype=float))
    res = curve(glm.prior, glm.channel, alphas, **se_options)
    noise = effective_noise_information(glm)
    glm_mi = np.asarray(res.mutual_information)
    return BayesOptimalResult(
        alpha=alphas,
        eta=glm.eta,
        gamma=glm.gamma,
        q=np.asarray(res.q),
        generalization_error=np.asarray(res.generalization_error),
        classification_error=None if res.classification_error is None
        else np.asarray(res.classification_error),
        mutual_information=glm_mi / alphas + noise,
        glm_mutual_information=glm_mi,
        noise_information=noise,
        glm=glm,
    )
