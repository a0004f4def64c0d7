"""Activations and readouts by name or callable, and the checks of [C25]'s hypotheses."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..amp.channels import named_function

__all__ = ["OutsideTheoremWarning", "resolve_activation", "resolve_activations", "ACTIVATIONS"]

#: activation names understood everywhere
ACTIVATIONS = ("linear", "tanh", "erf", "sin", "relu", "sign")
_NOT_COVERED = {"relu": "not odd", "sign": "not C²"}


class OutsideTheoremWarning(UserWarning):
    """The activation or readout is outside the hypotheses of [C25] (odd, C², bounded
    derivatives): the result follows the Cui–Krzakala–Zdeborová convention (math.md §4.2)
    and is conjectural."""


def resolve_activation(act: Any, what: str = "activation") -> tuple[str, Callable[[Any], Any]]:
    """Name and vectorised function of an activation given by name or as a callable.

    Raises ``ValueError`` for unknown names and non-callables; warns with
    :class:`OutsideTheoremWarning` when the function is not odd or (for known names) not C².
    """
    if isinstance(act, str):
        if act not in ACTIVATIONS:
            raise ValueError(f"unknown {what} {act!r}; known names: {list(ACTIVATIONS)}")
        fn = named_function(act)
        if act in _NOT_COVERED:
            warnings.warn(
                f"{what} {act!r} is {_NOT_COVERED[act]}: outside the proven theorem of [C25]; "
                "coefficients follow the Cui-Krzakala-Zdeborova convention (conjectural)",
                OutsideTheoremWarning,
                stacklevel=3,
            )
        return act, fn
    if not callable(act):
        raise ValueError(f"{what} must be a name in {list(ACTIVATIONS)} or a callable, got {act!r}")
    x = np.linspace(0.05, 6.0, 64)
    try:
        fx = np.asarray(act(x), dtype=float)
        fmx = np.asarray(act(-x), dtype=float)
    except Exception as exc:  # noqa: BLE001 - report any failure of the user's function
        raise ValueError(f"{what} callable failed on a NumPy array: {exc}") from exc
    if fx.shape != x.shape or not np.all(np.isfinite(fx)):
        raise ValueError(f"{what} callable must map arrays elementwise to finite values")
    if np.max(np.abs(fx + fmx)) > 1e-10 * (1.0 + np.max(np.abs(fx))):
        warnings.warn(
            f"{what} {getattr(act, '__name__', act)!r} is not odd: outside the proven theorem "
            "of [C25]; coefficients follow the Cui-Krzakala-Zdeborova convention (conjectural)",
            OutsideTheoremWarning,
            stacklevel=3,
        )
    return getattr(act, "__name__", "callable"), act


def resolve_activations(activation: Any, depth: int) -> list[tuple[str, Callable[[Any], Any]]]:
    """One (name, function) per layer from a single activation or a per-layer list."""
    if not isinstance(depth, (int, np.integer)) or isinstance(depth, bool) or depth < 0:
        raise ValueError(f"depth must be an integer >= 0, got {depth!r}")
    if isinstance(activation, Sequence) and not isinstance(activation, str):
        if len(activation) != depth:
            raise ValueError(
                f"activation list has {len(activation)} entries but depth is {depth}: "
                "give one activation per layer"
            )
        return [resolve_activation(a) for a in activation]
    if depth == 0:
        return []
    one = resolve_activation(activation)
    return [one] * depth
