"""deepgep: Bayes-optimal learning of deep random-network teachers through their equivalent GLM.

Subpackages: :mod:`deepgep.amp` (GAMP engine), :mod:`deepgep.state_evolution` (theory),
:mod:`deepgep.equivalence` (deep → GLM reduction), :mod:`deepgep.datasets` (teachers).
"""

from . import amp, datasets, equivalence, state_evolution
from .estimators import GAMPClassifier, GAMPRegressor
from .theory import BayesOptimalResult, bayes_optimal

__version__ = "0.1.0"

__all__ = [
    "amp",
    "datasets",
    "equivalence",
    "state_evolution",
    "bayes_optimal",
    "BayesOptimalResult",
    "GAMPRegressor",
    "GAMPClassifier",
    "__version__",
]
