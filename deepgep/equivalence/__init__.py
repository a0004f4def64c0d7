"""The deep Gaussian equivalence: from a deep random network to its GLM (math.md §2)."""

from .activations import ACTIVATIONS, OutsideTheoremWarning
from .diagnostics import EquivalenceCheck, check_equivalence
from .reduction import (
    EquivalentGLM,
    LayerCoefficients,
    equivalent_glm,
    gaussian_expectation,
    layer_coefficients,
)

__all__ = [
    "ACTIVATIONS",
    "OutsideTheoremWarning",
    "EquivalenceCheck",
    "check_equivalence",
    "EquivalentGLM",
    "LayerCoefficients",
    "equivalent_glm",
    "gaussian_expectation",
    "layer_coefficients",
]
