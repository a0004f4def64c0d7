"""Learning the channel's parameters inside GAMP (EM-GAMP).

Gaussian channel ``y = c z + √N ξ``: the exact EM step given GAMP's Gaussian posterior of
``z`` (mean ``ẑ = ω + V g``, variance ``v_z = V + V² ∂g``):
``c = Σ y ẑ / Σ (ẑ² + v_z)`` and ``N = mean((y - c ẑ)² + c² v_z)``.

Probit channel: only ``c/√N`` is identifiable under a fixed prior scale, so the probit
variance ``N`` is learned with ``c`` fixed, by maximising GAMP's approximation of the
evidence ``Σ ln Z_out(y, ω, V)`` over ``ln N`` (a bounded one-dimensional search).
"""

from __future__ import annotations

import math
from typing import Any

from scipy.optimize import minimize_scalar

from ..backend import namespace
from .channels import Channel, GaussianChannel, ProbitChannel

__all__ = ["update_channel", "learnable"]


def learnable(channel: Channel) -> bool:
    """Whether :func:`update_channel` can learn this channel's parameters."""
    return isinstance(channel, (GaussianChannel, ProbitChannel))


def update_channel(channel: Channel, y: Any, omega: Any, V: Any, g: Any, dg: Any) -> Channel:
    """One EM update of the channel parameters from GAMP's output-side quantities.

    Parameters
    ----------
    channel : GaussianChannel or ProbitChannel
    y, omega, g, dg : arrays
        Labels, ``ω``, ``g_out`` and ``∂g_out`` of the current iteration.
    V : float or array
        Variance of ``z`` around ``ω``.

    Returns
    -------
    Channel
        The channel with updated parameters.
    """
    xp = namespace(y, omega)
    if isinstance(channel, GaussianChannel):
        z_hat = omega + V * g
        v_z = xp.maximum(V + V * V * dg, 0.0)
        num = xp.sum(y * z_hat, axis=0)
        den = xp.sum(z_hat * z_hat + v_z, axis=0)
        c = float(xp.mean(num / den))
        if not math.isfinite(c) or c == 0:
            return channel
        res = y - c * z_hat
        N = float(xp.mean(res * res + c * c * v_z))
        return channel.with_params(scale=c, noise_variance=max(N, 1e-12))
    if isinstance(channel, ProbitChannel):
        def neg_evidence(log_n: float) -> float:
            trial = channel.with_params(noise_variance=math.exp(log_n))
            return -float(xp.sum(trial.log_partition(y, omega, V)))

        res = minimize_scalar(neg_evidence, bounds=(math.log(1e-8), math.log(1e4)),
                              method="bounded", options={"xatol": 1e-4})
        return channel.with_params(noise_variance=float(math.exp(res.x)))
    raise ValueError(
        f"learn_channel is supported for GaussianChannel and ProbitChannel, got "
        f"{type(channel).__name__}"
    )
