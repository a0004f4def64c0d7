"""deepgep: Bayes-optimal learning of deep random-network teachers through their equivalent GLM.

Subpackages: :mod:`deepgep.amp` (GAMP engine), :mod:`deepgep.state_evolution` (theory),
:mod:`deepgep.equivalence` (deep → GLM reduction), :mod:`deepgep.datasets` (teachers).
"""

__version__ = "0.1.0"
