"""GAMP engine: priors, output channels, linear operators and the solver (math.md §3)."""

from .channels import Channel, GaussianChannel, GenericChannel, ProbitChannel, named_function
from .learning import update_channel
from .operators import Operator, as_operator
from .priors import (
    BernoulliGaussianPrior,
    BinaryPrior,
    GaussianMixturePrior,
    GaussianPrior,
    Prior,
    make_prior,
)
from .solver import GAMPResult, default_damping, gamp

__all__ = [
    "Channel",
    "GaussianChannel",
    "ProbitChannel",
    "GenericChannel",
    "named_function",
    "Prior",
    "GaussianPrior",
    "GaussianMixturePrior",
    "BernoulliGaussianPrior",
    "BinaryPrior",
    "make_prior",
    "Operator",
    "as_operator",
    "gamp",
    "GAMPResult",
    "default_damping",
    "update_channel",
]
