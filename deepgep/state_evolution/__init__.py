"""State evolution, replica free entropy, mutual information and optimal errors (math.md §3)."""

from .averages import InputAverages, OutputAverages
from .solver import (
    FixedPoints,
    SECurve,
    SEResult,
    Transitions,
    curve,
    find_transitions,
    fixed_points,
    free_entropy,
    solve,
    track,
)

__all__ = [
    "InputAverages",
    "OutputAverages",
    "SEResult",
    "SECurve",
    "FixedPoints",
    "Transitions",
    "solve",
    "curve",
    "fixed_points",
    "find_transitions",
    "track",
    "free_entropy",
]
