"""Gauss–Hermite quadrature for expectations over standard normal variables (math.md §3.2)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

__all__ = ["gauss_hermite"]


@lru_cache(maxsize=64)
def _gh(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = hermegauss(n)
    weights = weights / weights.sum()
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with ``sum(w * h(x)) ≈ E[h(Z)]`` for ``Z ~ N(0, 1)``.

    Parameters
    ----------
    n : int
        Number of nodes (exact for polynomials of degree ``2n - 1``).

    Returns
    -------
    nodes, weights : numpy.ndarray
        Read-only arrays of length ``n``; the weights sum to one.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"the number of quadrature nodes must be >= 1, got {n}")
    return _gh(n)
