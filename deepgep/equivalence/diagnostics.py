"""A Monte Carlo diagnostic of the equivalence on a concrete teacher (math.md §2.4, §5)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["EquivalenceCheck", "check_equivalence"]


@dataclass(frozen=True)
class EquivalenceCheck:
    """Measured vs predicted linear part of a teacher's readout pre-activation ``s``.

    ``s`` is regressed on ``z = u·x/√d0`` (``u`` the effective direction, ``‖u‖² = d0``):
    ``s ≈ β z + residual``. Predicted: ``β² ≈ η₀²`` and residual variance ``≈ γ₀``;
    normalised by ``E[s²]`` (``≈ η₀² + γ₀``) the finite-width fluctuations of the overall
    output scale cancel.
    """

    n_samples: int
    coefficient_sq: float
    residual_variance: float
    output_second_moment: float
    predicted_eta_sq: float
    predicted_gamma: float
    linear_fraction: float
    predicted_linear_fraction: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def check_equivalence(teacher: Any, n_samples: int = 20000, random_state: Any = 0
                      ) -> EquivalenceCheck:
    """Sample ``teacher`` and compare its linear coefficient and residual variance along its
    effective direction with the predicted ``η₀²`` and ``γ₀``.

    Parameters
    ----------
    teacher : DeepTeacher
        Anything with ``sample``, ``output``, ``effective_direction`` and ``equivalent_glm``.
    n_samples : int
    random_state : seed

    Returns
    -------
    EquivalenceCheck
    """
    if not isinstance(n_samples, (int, np.integer)) or n_samples < 10:
        raise ValueError(f"n_samples must be an integer >= 10, got {n_samples!r}")
    X, _ = teacher.sample(n_samples, random_state=random_state)
    s = to_numpy(teacher.output(X)).astype(float)
    if getattr(teacher, "eps_out", 0.0) > 0:
        s = s + math.sqrt(teacher.eps_out) * np.random.default_rng(random_state).standard_normal(
            n_samples)
    u = to_numpy(teacher.effective_direction()).astype(float)
    z = to_numpy(X).astype(float) @ u / math.sqrt(u.size)
    beta = float(s @ z / (z @ z))
    resid = float(np.mean((s - beta * z) ** 2))
    m2 = float(np.mean(s * s))
    glm = teacher.equivalent_glm()
    return EquivalenceCheck(
        n_samples=int(n_samples),
        coefficient_sq=beta * beta,
        residual_variance=resid,
        output_second_moment=m2,
        predicted_eta_sq=glm.eta**2,
        predicted_gamma=glm.gamma,
        linear_fraction=beta * beta / m2,
        predicted_linear_fraction=glm.eta**2 / glm.output_variance,
    )
